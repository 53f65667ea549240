"""A store that dies, hangs or comes back: the limiter never hangs, falls back to per-process
limits on ``allow``, refuses with StorageError on ``deny``, and returns to shared limits within a
second of the store answering again. These tests wait on real events (a server restarting), with
bounded polls; no bucket refill depends on elapsed time (rates are ~0).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest

from ratelimit import (
    Limiter,
    Quota,
    StorageError,
    account_bucket,
    stage_bucket,
    storage_from_url,
)
from tests.support.redis_server import RedisServer

TINY = 1e-9
TIMEOUT = 0.2


@pytest.fixture
async def limiter(own_redis: RedisServer) -> AsyncIterator[Limiter]:
    lim = Limiter(storage_from_url(own_redis.url, timeout_s=TIMEOUT), timeout_s=TIMEOUT)
    yield lim
    await lim.aclose()


async def timed(lim: Limiter, *args: object) -> tuple[float, object]:
    t0 = time.monotonic()
    d = await lim.decide(*args)  # type: ignore[arg-type]
    return time.monotonic() - t0, d


async def wait_until_shared(lim: Limiter, bucket: object, deadline_s: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        d = await lim.decide([bucket], None)  # type: ignore[list-item]
        if not d.degraded:
            return time.monotonic() - t0
        await asyncio.sleep(0.01)
    raise AssertionError(f"still degraded after {deadline_s}s")


async def test_dead_store_falls_back_then_recovers(
    own_redis: RedisServer, limiter: Limiter, caplog: pytest.LogCaptureFixture
) -> None:
    shared = account_bucket(TINY, 1000)
    assert not (await limiter.decide([shared], None)).degraded
    own_redis.stop()
    b = account_bucket(TINY, 5)
    caplog.set_level(logging.WARNING, logger="sluice.ratelimit")
    results = [await timed(limiter, [b], None) for _ in range(40)]
    assert max(t for t, _ in results) < 1.0  # bounded, never hangs
    decisions = [d for _, d in results]
    assert all(d.degraded for d in decisions)  # type: ignore[attr-defined]
    assert sum(d.allowed for d in decisions) == 5  # type: ignore[attr-defined]  # same semantics
    assert limiter.fallback_count == 40
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    own_redis.start()
    assert await wait_until_shared(limiter, shared, 3.0) < 1.0
    # the restarted server (no persistence) holds the bucket again: 1000 - the recovering probe
    count = limiter.fallback_count
    out = await asyncio.gather(*(limiter.decide([shared], None) for _ in range(1000)))
    assert sum(d.allowed for d in out) == 999
    assert limiter.fallback_count == count


async def test_hung_store_costs_one_timeout_not_one_per_request(
    own_redis: RedisServer, limiter: Limiter
) -> None:
    b = account_bucket(TINY, 50)
    assert not (await limiter.decide([b], None)).degraded
    assert own_redis.proc is not None
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        first, d = await timed(limiter, [b], None)
        assert d.degraded  # type: ignore[attr-defined]
        assert TIMEOUT * 0.8 <= first < TIMEOUT + 0.5
        t0 = time.monotonic()
        rest = [await timed(limiter, [b], None) for _ in range(200)]
        assert time.monotonic() - t0 < 0.35  # at most one probe (0.5 s apart) pays the timeout
        assert all(d.degraded for _, d in rest)  # type: ignore[attr-defined]
        # concurrent requests while down are decided by the fallback, exactly
        fresh = stage_bucket("api", "prod", "/", "GET", TINY, 10)
        out = await asyncio.gather(*(limiter.decide([fresh], None) for _ in range(64)))
        assert sum(x.allowed for x in out) == 10
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    assert await wait_until_shared(limiter, b, 3.0) < 1.0


async def test_deny_raises_storage_error_quickly(own_redis: RedisServer) -> None:
    lim = Limiter(
        storage_from_url(own_redis.url, timeout_s=TIMEOUT), on_error="deny", timeout_s=TIMEOUT
    )
    try:
        b = account_bucket(TINY, 100)
        assert (await lim.decide([b], None)).allowed
        own_redis.stop()
        t0 = time.monotonic()
        for _ in range(20):
            with pytest.raises(StorageError):
                await lim.decide([b], None)
        assert time.monotonic() - t0 < 1.0
        results = await asyncio.gather(
            *(lim.decide([b], None) for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(r, StorageError) for r in results)
        assert lim.fallback_count == 0
        own_redis.start()
        deadline = time.monotonic() + 3.0
        while True:
            try:
                assert (await lim.decide([b], None)).allowed
                break
            except StorageError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
    finally:
        await lim.aclose()


async def test_usage_reads_raise_storage_error_when_store_is_down(
    own_redis: RedisServer, limiter: Limiter
) -> None:
    q = Quota("p", "k", 10, "DAY")
    assert (await limiter.decide([], q)).quota_remaining == 9
    assert await limiter.quota_used(q) == 1
    own_redis.stop()
    with pytest.raises(StorageError):
        await limiter.quota_used(q)
    with pytest.raises(StorageError):
        await limiter.daily_usage("p", "k", [datetime.date.today()])
