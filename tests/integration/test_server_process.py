"""`sluice` as users run it: validate, routes, serve with SIGHUP reload, SIGTERM drain and
several workers on one port (issue 2, items 2, 3, 11)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from tests.support.gateway import GatewayProcess, serve_app, write_config


def mock_api(body: str) -> dict[str, object]:
    return {"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {
        "/v": {"get": {"responses": {}, "x-amazon-apigateway-integration": {
            "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
            "responses": {"default": {"statusCode": "200",
                                      "responseTemplates": {"application/json": body}}}}}},
        "/slow": {"get": {"responses": {}, "x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "GET", "timeoutInMillis": 10000,
            "uri": "http://${stageVariables.backend}/slow"}}}}}


def sluice(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True,
                          text=True, timeout=60)


def test_validate_ok_and_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path, mock_api('"one"'), variables={"backend": "127.0.0.1:1"})
    ok = sluice("validate", str(config))
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout and len(ok.stdout.strip().splitlines()) == 1
    doc = yaml.safe_load(config.read_text())
    doc["apis"][0]["stages"]["prod"]["methodSettings"] = {
        "*/*": {"throttlingRateLimit": "fast"}}
    doc["account"] = {"maxConcurrency": -1}
    config.write_text(yaml.safe_dump(doc))
    bad = sluice("validate", str(config))
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert 'apis[0].stages.prod.methodSettings."*/*".throttlingRateLimit' in bad.stderr
    assert "account.maxConcurrency" in bad.stderr
    assert str(config) in bad.stderr


def test_routes_lists_integrations_and_timeouts(tmp_path: Path) -> None:
    config = write_config(tmp_path, mock_api('"one"'), variables={"backend": "127.0.0.1:1"})
    out = sluice("routes", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any("GET" in line and "/slow" in line and "HTTP_PROXY" in line and "10000ms" in line
               for line in lines)
    assert any("/v" in line and "MOCK" in line and "29000ms" in line for line in lines)


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as client, client.get(url) as resp:
        return resp.status, await resp.read()


async def test_sighup_reloads_and_bad_file_keeps_running(tmp_path: Path) -> None:
    config = write_config(tmp_path, mock_api('"one"'), variables={"backend": "127.0.0.1:1"})
    definition = tmp_path / "petstore-openapi.yaml"
    gw = GatewayProcess(config)
    gw.start()
    try:
        assert await _get(f"{gw.url}/prod/v") == (200, b'"one"')
        status, _ = await _get(f"{gw.admin_url}/healthz")
        assert status == 200
        definition.write_text(yaml.safe_dump(mock_api('"two"')))
        gw.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and await _get(f"{gw.url}/prod/v") != (200, b'"two"'):
            await asyncio.sleep(0.05)
        assert await _get(f"{gw.url}/prod/v") == (200, b'"two"')
        definition.write_text("paths: [this is not an openapi document")
        gw.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "reload failed" not in gw.output():
            await asyncio.sleep(0.05)
        assert "reload failed" in gw.output()
        assert await _get(f"{gw.url}/prod/v") == (200, b'"two"')
    finally:
        gw.stop()


async def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(1.0)
        return web.Response(text="finished")

    app = web.Application()
    app.router.add_get("/slow", slow)
    async with serve_app(app) as upstream:
        config = write_config(tmp_path, mock_api('"one"'),
                              variables={"backend": upstream.removeprefix("http://")})
        gw = GatewayProcess(config)
        gw.start()
        try:
            pending = asyncio.ensure_future(_get(f"{gw.url}/prod/slow"))
            await asyncio.wait_for(started.wait(), 10)
            gw.signal(signal.SIGTERM)
            assert await asyncio.wait_for(pending, 10) == (200, b"finished")
            code = await asyncio.get_running_loop().run_in_executor(None, gw.wait, 15)
            assert code == 0
            # it stopped accepting
            try:
                status, _ = await _get(f"{gw.url}/prod/v")
            except aiohttp.ClientError:
                status = 0
            assert status == 0
        finally:
            gw.stop()


async def test_two_workers_share_one_port(tmp_path: Path) -> None:
    config = write_config(tmp_path, mock_api('"one"'), variables={"backend": "127.0.0.1:1"})
    gw = GatewayProcess(config, "--workers", "2")
    gw.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and gw.output().count(f":{gw.port}") < 2:
            await asyncio.sleep(0.05)
        assert gw.output().count(f"listening on http://127.0.0.1:{gw.port}") == 2
        assert "divided by 2" in gw.output()  # memory:// with workers says so
        results = await asyncio.gather(*(_get(f"{gw.url}/prod/v") for _ in range(50)))
        assert all(r == (200, b'"one"') for r in results)
        deadline = time.monotonic() + 10  # workers flush their counts every 0.5 s
        while True:
            status, body = await _get(f"{gw.admin_url}/metrics")
            assert status == 200
            total = sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
                        if line.startswith("sluice_requests_total{"))
            if total >= 50 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert total == 50
        # SIGHUP to the parent reloads the workers and the parent's own (admin) view
        doc = yaml.safe_load(config.read_text())
        doc["apis"][0]["stages"]["dev"] = {}
        config.write_text(yaml.safe_dump(doc))
        gw.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            results = await asyncio.gather(*(_get(f"{gw.url}/dev/v") for _ in range(20)))
            status, body = await _get(f"{gw.admin_url}/restapis/petstore/stages")
            if all(r == (200, b'"one"') for r in results) and b'"dev"' in body:
                break
            await asyncio.sleep(0.1)
        assert all(r == (200, b'"one"') for r in results)  # both workers reloaded
        assert b'"dev"' in body
        gw.signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, gw.wait, 30)
        assert code == 0
    finally:
        gw.stop()
