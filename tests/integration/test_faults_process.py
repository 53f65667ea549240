"""The fault-injection suite, process part: the store stopped (SIGSTOP) and killed under load
with ``onError: allow``, reloads and SIGTERM under load, and reloads that must not refill a
bucket or reset a quota. Load is bounded (a fixed request count or a few seconds), stays on
127.0.0.1, and every process is stopped by its fixture."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from proxy.config.loader import load_config
from tests.support.gateway import GatewayProcess, run_gateway, serve_app, write_config
from tests.support.openapi import api, backend_uri, mock_route, proxy_route
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis

def openapi(version: str) -> dict[str, Any]:
    return api({
        "/mock": {"get": mock_route(body=f'{{"v": "{version}"}}')},
        "/limited": {"get": mock_route()},
        "/keyed": {"get": mock_route(security=["api_key"])},
        "/slow": {"get": proxy_route(backend_uri("/slow"))},
    }, title="faults", api_key=True)

KEY = "fault-key-0123456789abcdef"


def config_doc(storage_url: str, version: str = "one") -> tuple[dict[str, Any], dict[str, Any]]:
    extra = {
        "storage": {"url": storage_url, "onError": "allow", "timeoutMs": 100},
        # the load here outruns AWS's 10,000 rps account default: only faults may fail requests
        "account": {"throttle": {"rateLimit": 1_000_000, "burstLimit": 1_000_000}},
        "apiKeys": [{"id": "k1", "value": KEY}],
        "usagePlans": [{"id": "p1", "apiStages": [{"apiId": "petstore", "stage": "prod"}],
                        "quota": {"limit": 3, "period": "DAY"}, "apiKeys": ["k1"]}],
    }
    return openapi(version), extra


def write(tmp_path: Path, storage_url: str, version: str = "one",
          backend: str = "127.0.0.1:1") -> Path:
    openapi, extra = config_doc(storage_url, version)
    return write_config(tmp_path, openapi, storage_url=storage_url, extra=extra,
                        variables={"backend": backend},
                        stage_extra={"methodSettings": {"limited/GET": {
                            "throttlingRateLimit": 0.0001, "throttlingBurstLimit": 2}}})


async def _status(client: aiohttp.ClientSession, url: str, **kw: Any) -> int:
    async with client.get(url, **kw) as resp:
        await resp.read()
        return resp.status


# --- a reload refills no bucket and resets no quota ------------------------------------------

@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_reload_keeps_buckets_and_quotas(tmp_path: Path, backend: str,
                                               request: pytest.FixtureRequest) -> None:
    url = "memory://" if backend == "memory" else request.getfixturevalue("redis_url")
    path = write(tmp_path, url)
    async with run_gateway(path) as gw, aiohttp.ClientSession() as client:
        limited = [await _status(client, f"{gw.url}/prod/limited") for _ in range(3)]
        keyed = [await _status(client, f"{gw.url}/prod/keyed", headers={"x-api-key": KEY})
                 for _ in range(4)]
        assert limited == [200, 200, 429] and keyed == [200, 200, 200, 429]
        for version in ("two", "three"):
            write(tmp_path, url, version)
            await gw.runtime.reload(load_config(path))
            async with client.get(f"{gw.url}/prod/mock") as resp:
                assert await resp.json() == {"v": version}  # the reload took effect
            # a refilled bucket or a reset quota would answer 200 here
            assert await _status(client, f"{gw.url}/prod/limited") == 429
            assert await _status(client, f"{gw.url}/prod/keyed", headers={"x-api-key": KEY}) == 429


# --- load helpers ----------------------------------------------------------------------------

async def drive(url: str, *, seconds: float, connections: int = 16,
                during: Callable[[], Awaitable[None]] | None = None) -> dict[str, int]:
    """Closed-loop GETs for ``seconds`` (bounded), counting statuses and errors by kind; runs
    ``during`` alongside."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=connections)) as c:
        async def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    async with c.get(url) as resp:
                        await resp.read()
                        key = str(resp.status)
                except aiohttp.ClientError as exc:
                    key = type(exc).__name__
                counts[key] = counts.get(key, 0) + 1

        tasks = [asyncio.ensure_future(worker()) for _ in range(connections)]
        if during is not None:
            await during()
        await asyncio.gather(*tasks)
    return counts


def fallbacks(admin_url_text: str) -> float:
    for family in text_string_to_metric_families(admin_url_text):
        for s in family.samples:
            if s.name == "sluice_store_fallbacks_total":
                return s.value
    return 0.0


async def metrics_text(gw: GatewayProcess) -> str:
    async with aiohttp.ClientSession() as c, c.get(f"{gw.admin_url}/metrics") as resp:
        return await resp.text()


# --- the store stopped or killed under load --------------------------------------------------

@pytest.mark.parametrize("fault", ["sigstop", "sigkill"])
async def test_store_fault_under_load_costs_no_client_error(tmp_path: Path, own_redis: RedisServer,
                                                            fault: str) -> None:
    gw = GatewayProcess(write(tmp_path, own_redis.url))
    gw.start()
    try:
        recovered_at: list[float] = []

        async def fault_then_heal() -> None:
            await asyncio.sleep(0.5)
            assert own_redis.proc is not None
            if fault == "sigstop":
                os.kill(own_redis.proc.pid, signal.SIGSTOP)
                await asyncio.sleep(1.5)
                os.kill(own_redis.proc.pid, signal.SIGCONT)
            else:
                own_redis.proc.kill()
                own_redis.proc.wait(5)
                await asyncio.sleep(1.0)
                own_redis.start()  # the same port
            recovered_at.append(time.monotonic())

        counts = await drive(f"{gw.url}/prod/mock", seconds=3.5, during=fault_then_heal)
        assert set(counts) == {"200"}, counts  # no 5xx, no connection error
        assert counts["200"] > 100
        # within 1 s of the store's return the gateway decides on it again: the fallback
        # counter stops moving while traffic goes on
        await asyncio.sleep(max(0.0, recovered_at[0] + 1.0 - time.monotonic()))
        before = fallbacks(await metrics_text(gw))
        assert before > 0
        again = await drive(f"{gw.url}/prod/mock", seconds=0.5, connections=4)
        assert set(again) == {"200"}
        assert fallbacks(await metrics_text(gw)) == before
    finally:
        gw.stop()
        if own_redis.proc is not None:
            os.kill(own_redis.proc.pid, signal.SIGCONT)


# --- reload and SIGTERM under load -----------------------------------------------------------

async def test_reloads_under_load_fail_no_request(tmp_path: Path) -> None:
    path = write(tmp_path, "memory://")
    gw = GatewayProcess(path)
    gw.start()
    try:
        async def hup_often() -> None:
            for i in range(15):
                write(tmp_path, "memory://", f"v{i}")
                gw.signal(signal.SIGHUP)
                await asyncio.sleep(0.15)

        counts = await drive(f"{gw.url}/prod/mock", seconds=3, during=hup_often)
        assert set(counts) == {"200"}, counts
        assert gw.output().count("reloaded") >= 10
        assert "reload failed" not in gw.output()
    finally:
        gw.stop()


async def test_sigterm_under_load_finishes_every_accepted_request(tmp_path: Path) -> None:
    started = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal started
        started += 1
        await asyncio.sleep(0.6)
        return web.Response(text="finished")

    app = web.Application()
    app.router.add_get("/slow", slow)
    async with serve_app(app) as upstream:
        gw = GatewayProcess(write(tmp_path, "memory://", backend=upstream.removeprefix("http://")))
        gw.start()
        try:
            async with aiohttp.ClientSession() as client:
                async def one() -> tuple[int, bytes]:
                    async with client.get(f"{gw.url}/prod/slow") as resp:
                        return resp.status, await resp.read()

                pending = [asyncio.ensure_future(one()) for _ in range(30)]
                deadline = time.monotonic() + 10
                while started < 30 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert started == 30
                gw.signal(signal.SIGTERM)
                results = await asyncio.wait_for(asyncio.gather(*pending), 15)
            assert results == [(200, b"finished")] * 30
            code = await asyncio.get_running_loop().run_in_executor(None, gw.wait, 15)
            assert code == 0
        finally:
            gw.stop()

