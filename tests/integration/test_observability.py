"""Metrics on /metrics and access logs after known traffic, through `sluice serve` with one and
with two workers (issue 5)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gateway import GatewayProcess, write_config

OPENAPI = """
openapi: 3.0.1
info: {title: t, version: "1"}
paths:
  /cached:
    get:
      responses: {}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses: {default: {statusCode: "200", responseTemplates: {application/json: '"c"'}}}
  /limited:
    get:
      responses: {}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses: {default: {statusCode: "200"}}
  /broken:
    get:
      responses: {}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 503}'}
        responses: {"2\\\\d{2}": {statusCode: "200"}}
  /hidden:
    get:
      responses: {}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses: {default: {statusCode: "201"}}
"""

LOG_FORMAT = ('{"requestId":"$context.requestId","status":"$context.status",'
              '"resourcePath":"$context.resourcePath","httpMethod":"$context.httpMethod",'
              '"path":"$context.path","stage":"$context.stage","apiKeyId":"$context.identity.apiKeyId",'
              '"error":"$context.error.responseType","len":"$context.responseLength"}')


def config(tmp_path: Path, storage_url: str) -> Path:
    return write_config(
        tmp_path, OPENAPI, storage_url=storage_url,
        stage_extra={
            "cacheClusterEnabled": True,
            "methodSettings": {
                "limited/GET": {"throttlingRateLimit": 0.0001, "throttlingBurstLimit": 2,
                                "cachingEnabled": False},
                "broken/GET": {"cachingEnabled": False},
                "hidden/GET": {"metricsEnabled": False, "cachingEnabled": False},
            },
            "accessLogSettings": {"format": LOG_FORMAT,
                                  "destination": str(tmp_path / "access.log")},
        })


async def traffic(url: str) -> list[tuple[str, int]]:
    """Known traffic, sent one request at a time so cache and bucket counts are exact."""
    plan = ([("/prod/cached", 200)] * 3 + [("/prod/limited", 200)] * 2
            + [("/prod/limited", 429)] * 2 + [("/prod/nothing", 403)] * 2
            + [("/prod/broken", 500)] + [("/prod/hidden", 201)] * 2 + [("/nostage/x", 403)])
    async with aiohttp.ClientSession() as client:
        for path, want in plan:
            async with client.get(f"{url}{path}") as resp:
                await resp.read()
                assert resp.status == want, path
    return plan


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def labels(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kw.items()))


def check(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> None:
    def get(name: str, **kw: str) -> float:
        return metrics.get((name, labels(**kw)), 0.0)

    base = {"api": "petstore", "stage": "prod"}
    cached = {**base, "resource": "/cached", "method": "GET"}
    limited = {**base, "resource": "/limited", "method": "GET"}
    broken = {**base, "resource": "/broken", "method": "GET"}
    unmatched = {**base, "resource": "-", "method": "-"}
    assert get("sluice_requests_total", **cached, status="200") == 3
    assert get("sluice_cache_hits_total", **cached) == 2
    assert get("sluice_cache_misses_total", **cached) == 1
    assert get("sluice_requests_total", **limited, status="200") == 2
    assert get("sluice_requests_total", **limited, status="429") == 2
    assert get("sluice_4xx_errors_total", **limited) == 2
    assert get("sluice_throttled_total", **base, level="stage") == 2
    assert get("sluice_requests_total", **unmatched, status="403") == 2
    assert get("sluice_4xx_errors_total", **unmatched) == 2
    assert get("sluice_requests_total", **broken, status="500") == 1
    assert get("sluice_5xx_errors_total", **broken) == 1
    # metricsEnabled: false -> resource and method "-" (the 2 hidden 201s join the unmatched)
    assert get("sluice_requests_total", **unmatched, status="201") == 2
    # no stage: the one API is known, the stage is not
    assert get("sluice_requests_total", api="petstore", stage="-", resource="-", method="-",
               status="403") == 1
    assert get("sluice_latency_seconds_count", **cached) == 3
    assert get("sluice_latency_seconds_count", **limited) == 4
    # MOCK integrations make no integration call
    assert get("sluice_integration_latency_seconds_count", **cached) == 0
    total = sum(v for (n, _), v in metrics.items() if n == "sluice_requests_total")
    assert total == 13


async def scrape(admin_url: str) -> str:
    async with aiohttp.ClientSession() as client, client.get(f"{admin_url}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_metrics_and_access_log_one_worker(tmp_path: Path) -> None:
    gw = GatewayProcess(config(tmp_path, "memory://"))
    gw.start()
    try:
        plan = await traffic(gw.url)
        check(samples(await scrape(gw.admin_url)))
        gw.signal(signal.SIGTERM)
        assert await asyncio.get_running_loop().run_in_executor(None, gw.wait, 20) == 0
    finally:
        gw.stop()
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == len(plan) - 1  # the request to no stage has no stage access log
    records = [orjson.loads(line) for line in lines]
    assert [int(r["status"]) for r in records] == [w for p, w in plan if p.startswith("/prod")]
    first = records[0]
    assert first["resourcePath"] == "/cached" and first["httpMethod"] == "GET"
    assert first["path"] == "/prod/cached" and first["stage"] == "prod"
    assert first["apiKeyId"] == "-" and first["error"] == "-" and first["len"] == "3"
    throttled = records[5]
    assert throttled["status"] == "429" and throttled["error"] == "THROTTLED"
    unmatched = records[7]
    assert unmatched["resourcePath"] == "-" and unmatched["error"] == "MISSING_AUTHENTICATION_TOKEN"
    assert len({r["requestId"] for r in records}) == len(records)


async def test_metrics_sum_two_workers(tmp_path: Path, redis_url: str) -> None:
    # Redis so that the cache and the bucket are shared and the counts are exact
    gw = GatewayProcess(config(tmp_path, redis_url), "--workers", "2")
    gw.start()
    try:
        deadline = time.monotonic() + 15
        while gw.output().count(f"listening on http://127.0.0.1:{gw.port}") < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await traffic(gw.url)
        # workers push their counts every FLUSH_INTERVAL_S: poll until they are all there
        deadline = time.monotonic() + 10
        while True:
            got = samples(await scrape(gw.admin_url))
            total = sum(v for (n, _), v in got.items() if n == "sluice_requests_total")
            if total >= 13 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        check(got)
    finally:
        gw.stop()


@pytest.mark.parametrize("fmt", ["json"])
async def test_gateway_logs_json(tmp_path: Path, fmt: str) -> None:
    gw = GatewayProcess(config(tmp_path, "memory://"), "--log-format", fmt)
    gw.start()
    try:
        gw.signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, gw.wait, 20)
    finally:
        gw.stop()
    events = [orjson.loads(line) for line in gw.output().splitlines() if line.startswith("{")]
    messages = [e["message"] for e in events]
    assert any(m.startswith("listening on http://") for m in messages)
    assert any("shutting down" in m for m in messages)
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
