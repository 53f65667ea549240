"""API keys, usage plans, throttles, quotas and the in-flight limit through the real gateway,
on the memory store and on Redis (issue 3, items 1, 3, 4, 5, 8)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from ratelimit import InFlight
from tests.support.gateway import run_gateway, serve_app, write_config
from tests.support.openapi import api, backend_uri, mock_route, proxy_route

OPENAPI = api({
    "/open": {"get": mock_route()},
    "/keyed": {"get": mock_route(security=["api_key"])},
    "/limited": {"get": mock_route(security=["api_key"])},
    "/slow": {"get": proxy_route(backend_uri("/slow"))},
}, api_key=True)

ALICE = "alice-0123456789abcdefghij"
BOB = "bob-0123456789abcdefghijkl"
CAROL = "carol-0123456789abcdefghij"
DAVE = "dave-0123456789abcdefghijk"


def limits_config(tmp_path: Path, storage_url: str, backend: str = "127.0.0.1:1",
                  stage_burst: int = 1000, on_error: str = "allow") -> Path:
    path = _limits_config(tmp_path, storage_url, backend, stage_burst, on_error)
    doc = yaml.safe_load(path.read_text())
    doc["apis"][0]["stages"]["dev"] = {}
    path.write_text(yaml.safe_dump(doc))
    return path


def _limits_config(tmp_path: Path, storage_url: str, backend: str, stage_burst: int,
                   on_error: str) -> Path:
    return write_config(
        tmp_path, OPENAPI, variables={"backend": backend}, storage_url=storage_url,
        stage_extra={"methodSettings": {
            "*/*": {"throttlingRateLimit": 0.001, "throttlingBurstLimit": 1000},
            "open/GET": {"throttlingRateLimit": 0.001, "throttlingBurstLimit": stage_burst}}},
        extra={
            "storage": {"url": storage_url, "onError": on_error, "timeoutMs": 200},
            "usagePlans": [
                {"id": "gold", "apiStages": [{"apiId": "petstore", "stage": "prod",
                                              "throttle": {"/limited/GET": {
                                                  "rateLimit": 0.001, "burstLimit": 3}}}],
                 "throttle": {"rateLimit": 0.001, "burstLimit": 100},
                 "quota": {"limit": 5, "period": "DAY"}, "apiKeys": ["alice", "dave"]},
                {"id": "other", "apiStages": [{"apiId": "petstore", "stage": "dev"}],
                 "apiKeys": ["carol"]},
            ],
            "apiKeys": [
                {"id": "alice", "value": ALICE},
                {"id": "bob", "value": BOB},  # in no plan
                {"id": "carol", "value": CAROL},  # in a plan for another stage
                {"id": "dave", "value": DAVE, "enabled": False},
            ],
        })


async def test_api_key_required(tmp_path: Path, store_url: str) -> None:
    async with run_gateway(limits_config(tmp_path, store_url)) as gw, \
            aiohttp.ClientSession() as client:
        for headers in ({}, {"x-api-key": "nope-0123456789abcdefghij"}, {"x-api-key": BOB},
                        {"x-api-key": CAROL}, {"x-api-key": DAVE}):
            async with client.get(f"{gw.url}/prod/keyed", headers=headers) as resp:
                assert resp.status == 403, headers
                assert await resp.read() == b'{"message":"Forbidden"}'
                assert resp.headers["x-amzn-ErrorType"] == "ForbiddenException"
        async with client.get(f"{gw.url}/prod/keyed", headers={"X-API-Key": ALICE}) as resp:
            assert resp.status == 200
        async with client.get(f"{gw.url}/prod/open") as resp:  # no key needed
            assert resp.status == 200


async def test_quota_counts_keyed_requests_only(tmp_path: Path, store_url: str) -> None:
    async with run_gateway(limits_config(tmp_path, store_url)) as gw, \
            aiohttp.ClientSession() as client:
        statuses = []
        for _ in range(7):
            async with client.get(f"{gw.url}/prod/keyed", headers={"x-api-key": ALICE}) as resp:
                statuses.append(resp.status)
                body = await resp.read()
        assert statuses == [200] * 5 + [429] * 2
        assert body == b'{"message":"Limit Exceeded"}'
        assert resp.headers["x-amzn-ErrorType"] == "LimitExceededException"
        # a method without apiKeyRequired ignores the key and the plan (DG)
        async with client.get(f"{gw.url}/prod/open", headers={"x-api-key": ALICE}) as resp:
            assert resp.status == 200


async def test_plan_method_throttle(tmp_path: Path, store_url: str) -> None:
    async with run_gateway(limits_config(tmp_path, store_url)) as gw, \
            aiohttp.ClientSession() as client:
        async def one() -> tuple[int, bytes, str | None]:
            async with client.get(f"{gw.url}/prod/limited", headers={"x-api-key": ALICE}) as r:
                return r.status, await r.read(), r.headers.get("x-amzn-ErrorType")

        results = await asyncio.gather(*(one() for _ in range(10)))
        ok = [r for r in results if r[0] == 200]
        refused = [r for r in results if r[0] == 429]
        assert len(ok) == 3 and len(refused) == 7
        assert refused[0][1:] == (b'{"message":"Too Many Requests"}', "TooManyRequestsException")
        assert "Retry-After" not in refused[0]


async def test_stage_method_bucket_exact_under_gather(tmp_path: Path, store_url: str) -> None:
    async with run_gateway(limits_config(tmp_path, store_url, stage_burst=20)) as gw, \
            aiohttp.ClientSession() as client:
        async def one() -> int:
            async with client.get(f"{gw.url}/prod/open") as resp:
                await resp.read()
                return resp.status

        statuses = await asyncio.gather(*(one() for _ in range(60)))
        assert statuses.count(200) == 20 and statuses.count(429) == 40
        metrics = gw.runtime.metrics.render()[0].decode()
        assert 'sluice_throttled_total{api="petstore",level="stage",stage="prod"} 40.0' in metrics


async def test_in_flight_limit(tmp_path: Path) -> None:
    release = asyncio.Event()
    arrived = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal arrived
        arrived += 1
        await release.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/slow", slow)
    async with serve_app(app) as upstream:
        config = limits_config(tmp_path, "memory://", backend=upstream.removeprefix("http://"))
        inflight = InFlight(3)
        async with run_gateway(config, inflight=inflight) as gw, \
                aiohttp.ClientSession() as client:
            async def one() -> int:
                async with client.get(f"{gw.url}/prod/slow") as resp:
                    await resp.read()
                    return resp.status

            held = [asyncio.ensure_future(one()) for _ in range(3)]
            while arrived < 3:
                await asyncio.sleep(0.01)
            async with client.get(f"{gw.url}/prod/slow") as resp:
                assert resp.status == 429
                assert await resp.read() == b'{"message":"Too Many Requests"}'
            release.set()
            assert await asyncio.gather(*held) == [200, 200, 200]
            assert inflight.in_flight == 0  # released on every way out
            async with client.get(f"{gw.url}/prod/missing-route") as resp:
                assert resp.status == 403
            assert inflight.in_flight == 0


async def test_store_down_allow_falls_back_and_deny_answers_500(tmp_path: Path,
                                                                own_redis) -> None:  # type: ignore[no-untyped-def]
    for on_error, want in (("allow", 200), ("deny", 500)):
        config = limits_config(tmp_path, own_redis.url, on_error=on_error)
        async with run_gateway(config) as gw, aiohttp.ClientSession() as client:
            async with client.get(f"{gw.url}/prod/open") as resp:
                assert resp.status == 200
            own_redis.stop()
            try:
                for _ in range(3):
                    async with client.get(f"{gw.url}/prod/open",
                                          timeout=aiohttp.ClientTimeout(total=5)) as resp:
                        assert resp.status == want
                        if want == 500:
                            assert await resp.read() == b'{"message": "Internal server error"}'
            finally:
                own_redis.start()
