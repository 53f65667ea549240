"""The built-in load driver: an aiohttp client on uvloop, closed or open loop.

Closed loop: ``connections`` workers each send, wait for the response, send again.
Open loop (``rate`` set): request *i* is due at ``start + i / rate``; a worker that picks it up
late still measures latency from the due time, so a stalled server shows up in the percentiles
instead of silently lowering the offered load (no coordinated omission).

Every request started is awaited before a phase ends, so ``warmup_requests + requests +
errors`` is exactly what the server was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
import uvloop
from multidict import CIMultiDict
from yarl import URL

from bench.drivers.base import LoadSettings, Progress, RequestSpec, RunResult, percentiles

__all__ = ["drive", "run"]


@dataclass(frozen=True, slots=True)
class _Prepared:
    method: str
    url: URL
    headers: CIMultiDict[str]
    body: bytes | None


@dataclass(slots=True)
class _Tally:
    sent: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    status: dict[int, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)


def _prepare(base_url: str, deck: Sequence[RequestSpec]) -> list[_Prepared]:
    base = base_url.rstrip("/")
    return [_Prepared(r.method, URL(base + r.path, encoded=True), CIMultiDict(r.headers),
                      r.body or None) for r in deck]


async def _send(session: aiohttp.ClientSession, req: _Prepared, tally: _Tally,
                started: float) -> None:
    tally.sent += 1
    try:
        async with session.request(req.method, req.url, headers=req.headers,
                                   data=req.body) as resp:
            await resp.read()
            code = resp.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        tally.errors += 1
        kind = type(exc).__name__
        tally.error_kinds[kind] = tally.error_kinds.get(kind, 0) + 1
        return
    tally.latencies.append((time.perf_counter() - started) * 1000.0)
    tally.status[code] = tally.status.get(code, 0) + 1


async def _phase(session: aiohttp.ClientSession, deck: list[_Prepared], settings: LoadSettings,
                 seconds: float, progress: Progress) -> tuple[_Tally, float]:
    tally = _Tally()
    n = len(deck)
    next_index = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def closed_worker() -> None:
        nonlocal next_index
        while time.perf_counter() < deadline:
            i = next_index
            next_index += 1
            await _send(session, deck[i % n], tally, time.perf_counter())

    async def open_worker(rate: float) -> None:
        nonlocal next_index
        while True:
            i = next_index
            next_index += 1
            due = start + i / rate
            if due >= deadline:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await _send(session, deck[i % n], tally, due)

    async def ticker() -> None:
        while True:
            progress.update(len(tally.latencies), tally.errors)
            await asyncio.sleep(0.25)

    rate = settings.rate
    workers = [closed_worker() if rate is None else open_worker(rate)
               for _ in range(settings.connections)]
    tick = asyncio.create_task(ticker())
    try:
        # Bounded: a worker's last request can outlive the deadline by at most one timeout.
        async with asyncio.timeout(seconds + settings.timeout_s + 5.0):
            await asyncio.gather(*workers)
    finally:
        tick.cancel()
    return tally, time.perf_counter() - start


async def drive(base_url: str, deck: Sequence[RequestSpec], settings: LoadSettings,
                *, label: str = "asyncio", progress: bool | None = None) -> RunResult:
    """Drive ``base_url`` (scheme, host, port and an optional path prefix) with ``deck``."""
    if not deck:
        raise ValueError("the request deck is empty")
    prepared = _prepare(base_url, deck)
    connector = aiohttp.TCPConnector(limit=settings.connections, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
    bar = Progress(f"{label} warmup", settings.warmup_s, enabled=progress)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     auto_decompress=False) as session:
        warm_count = 0
        if settings.warmup_s > 0:
            warm, _ = await _phase(session, prepared, settings, settings.warmup_s, bar)
            warm_count = warm.sent
        bar.restart(label, settings.duration_s)
        tally, elapsed = await _phase(session, prepared, settings, settings.duration_s, bar)
    bar.close()
    return RunResult(
        driver="asyncio", requests=len(tally.latencies), errors=tally.errors, elapsed_s=elapsed,
        latency_ms=percentiles(tally.latencies),
        status={str(k): v for k, v in sorted(tally.status.items())},
        warmup_requests=warm_count, error_kinds=dict(tally.error_kinds))


def run(base_url: str, deck: Sequence[RequestSpec], settings: LoadSettings,
        *, label: str = "asyncio", progress: bool | None = None) -> RunResult:
    """``drive`` on a fresh uvloop event loop, for synchronous callers."""
    return uvloop.run(drive(base_url, deck, settings, label=label, progress=progress))
