"""The fault-injection suite, wire part: a hostile client against the real gateway, with a
backend on a raw socket that keeps every byte it receives, so each test asserts both what the
client saw and what the backend got. Bounded: every read has a timeout, every timeout under
test is set to a fraction of a second, traffic stays on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy import respond
from proxy.bounded_log import BoundedLog
from proxy.paths import directory, escapes
from tests.support.gateway import RunningGateway, run_gateway, write_config
from tests.support.openapi import (
    api,
    backend_uri,
    header_param,
    mock_route,
    path_param,
    proxy_route,
)
from tests.support.raw_upstream import RawUpstream, exchange, first_response, raw_upstream

OPENAPI = api({
    "/mock": {"get": mock_route(body='{"mock": 1}')},
    "/byheader": {"get": proxy_route(
        backend_uri("/public/{target}"), parameters=[header_param("X-Target")],
        request_parameters={"integration.request.path.target": "method.request.header.X-Target"})},
    "/{proxy+}": {"x-amazon-apigateway-any-method": proxy_route(
        backend_uri("/public/{proxy}"), http_method="ANY", parameters=[path_param("proxy")],
        request_parameters={"integration.request.path.proxy": "method.request.path.proxy"},
        timeout_ms=800)},
}, title="faults")


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, up: RawUpstream, *, server: dict[str, Any] | None = None,
                  account: dict[str, Any] | None = None
                  ) -> AsyncIterator[tuple[RunningGateway, int]]:
    extra: dict[str, Any] = {"server": {"listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0",
                                        **(server or {})}}
    if account:
        extra["account"] = account
    config = write_config(tmp_path, OPENAPI, variables={"backend": f"127.0.0.1:{up.port}"},
                          extra=extra,
                          stage_extra={"accessLogSettings": {
                              "format": "$context.requestId $context.status",
                              "destination": str(tmp_path / "access.log")}})
    async with run_gateway(config) as gw:
        yield gw, int(gw.url.rsplit(":", 1)[1])


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1."), response[:100]
    return int(response.split(b" ", 2)[1])


def metric(gw: RunningGateway, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(gw.runtime.metrics.render()[0].decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


# --- 1. dot segments and encoded slashes -----------------------------------------------------

TRAVERSALS = [
    "/prod/../admin/secret",
    "/prod/%2e%2e/admin/secret",
    "/prod/%2E%2E/admin/secret",
    "/prod/a/../../x",
    "/prod/a/.%2e/.%2E/admin",
    "/prod/public/../../admin",
    "/prod/a%2F..%2F..%2Fadmin",
    "/prod/a%2f..%2f..%2fadmin%2fsecret",
    "/prod/..%5C..%5Cadmin",
    "/prod/x/..%2F..%2F..%2Fadmin",
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_dot_segments_never_leave_the_integration_prefix(tmp_path: Path, path: str) -> None:
    async with raw_upstream() as up, gateway(tmp_path, up) as (_, port):
        response = await first_response(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status_of(response) in (400, 403)
    prefix = directory("/public/{proxy}")
    for line in up.request_lines():
        target = line.split(" ")[1].partition("?")[0]
        assert not escapes(target, prefix), line


async def test_dot_segments_are_resolved_before_routing(tmp_path: Path) -> None:
    async with raw_upstream() as up, gateway(tmp_path, up) as (_, port):
        inside = await first_response(port, b"GET /prod/a/b/../c HTTP/1.1\r\nHost: x\r\n\r\n")
        stage_gone = await first_response(port, b"GET /prod/../mock HTTP/1.1\r\nHost: x\r\n\r\n")
        to_mock = await first_response(port,
                                       b"GET /prod/x/%2e%2e/mock HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(inside) == 200
    assert up.request_lines() == ["GET /public/a/c HTTP/1.1"]
    assert status_of(stage_gone) == 403  # /mock: "mock" is no stage
    assert status_of(to_mock) == 200 and to_mock.endswith(b'{"mock": 1}')


async def test_a_mapped_header_cannot_climb_out_of_the_prefix(tmp_path: Path) -> None:
    async with raw_upstream() as up, gateway(tmp_path, up) as (_, port):
        bad = await first_response(
            port, b"GET /prod/byheader HTTP/1.1\r\nHost: x\r\nX-Target: ../admin\r\n\r\n")
        good = await first_response(
            port, b"GET /prod/byheader HTTP/1.1\r\nHost: x\r\nX-Target: ok.json\r\n\r\n")
    assert status_of(bad) == 400 and b'{"message":"Bad Request"}' in bad
    assert status_of(good) == 200
    assert up.request_lines() == ["GET /public/ok.json HTTP/1.1"]


# --- request smuggling and framing -----------------------------------------------------------

SMUGGLING = {
    "cl-then-te": (b"POST /prod/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /prod/smuggled HTTP/1.1\r\n"
                   b"Host: x\r\n\r\n"),
    "te-then-cl": (b"POST /prod/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Length: 4\r\n\r\n0\r\n\r\nGET /prod/smuggled HTTP/1.1\r\n"
                   b"Host: x\r\n\r\n"),
    "duplicate-cl": (b"POST /prod/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                     b"Content-Length: 40\r\n\r\nabcd"),
    "obs-fold": (b"GET /prod/a HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n"),
    "bare-lf": b"GET /prod/a HTTP/1.1\nHost: x\n\n",
    "bad-chunk-size": (b"POST /prod/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\nabc\r\n0\r\n\r\n"),
    "chunk-size-overflow": (b"POST /prod/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                            b"\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
    "te-not-chunked": (b"POST /prod/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                       b"abc"),
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
async def test_smuggling_and_bad_framing_reach_no_backend(tmp_path: Path, name: str) -> None:
    async with raw_upstream() as up, gateway(tmp_path, up) as (_, port):
        response = await exchange(port, SMUGGLING[name], timeout=3)
    assert response.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400")), response[:200]
    assert response.endswith(b'{"message":"Bad Request"}')
    assert b"Server:" not in response
    assert b"smuggled" not in up.all_bytes
    assert up.received == [] or up.all_bytes == b""


async def test_http_0_9_is_refused_and_not_forwarded(tmp_path: Path) -> None:
    async with raw_upstream() as up, gateway(tmp_path, up) as (_, port):
        response = await exchange(port, b"GET /prod/a\r\n\r\n", timeout=3)
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in response
    assert up.received == []


async def test_headers_named_in_connection_are_not_forwarded(tmp_path: Path) -> None:
    async with raw_upstream() as up, gateway(tmp_path, up) as (_, port):
        response = await first_response(
            port, b"GET /prod/a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret, "
                  b"x-other\r\nX-Secret: hush\r\nX-Other: 1\r\nX-Kept: yes\r\n\r\n")
    assert status_of(response) == 200
    sent = up.all_bytes.lower()
    assert b"x-secret" not in sent and b"hush" not in sent and b"x-other" not in sent
    assert b"x-kept: yes" in sent


# --- 2. stalled and trickled heads and bodies --------------------------------------------------


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> tuple[bytes, float]:
    began = time.monotonic()
    out = bytearray()
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(65536):
            out += chunk
    return bytes(out), time.monotonic() - began


async def test_stalled_body_is_answered_408_and_closed(tmp_path: Path) -> None:
    async with raw_upstream() as up, gateway(
            tmp_path, up, server={"clientBodyTimeoutSeconds": 0.3}) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /prod/a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        data, took = await closed_within(reader, 5)
        writer.close()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"Connection: close" in data
    assert 0.25 < took < 3
    assert up.received == []


async def test_trickled_body_is_cut_at_the_body_timeout(tmp_path: Path) -> None:
    async with raw_upstream() as up, gateway(
            tmp_path, up, server={"clientBodyTimeoutSeconds": 0.5}) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /prod/a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(60):  # a byte every 50 ms: never idle, never done
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.05)

        dripping = asyncio.ensure_future(trickle())
        data, took = await closed_within(reader, 5)
        dripping.cancel()
        writer.close()
    assert data.startswith(b"HTTP/1.1 408")
    assert took < 2.5
    assert up.received == []


@pytest.mark.parametrize("head", [b"GET /prod/mock HTTP/1.1\r\nHos", b"GET /pro"])
async def test_stalled_head_is_closed_at_the_header_timeout(tmp_path: Path, head: bytes) -> None:
    async with raw_upstream() as up, gateway(
            tmp_path, up, server={"clientHeaderTimeoutSeconds": 0.3}) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head)
        data, took = await closed_within(reader, 5)
        writer.close()
    assert data == b""
    assert took < 3


async def test_trickled_head_is_closed_at_the_header_timeout(tmp_path: Path) -> None:
    async with raw_upstream() as up, gateway(
            tmp_path, up, server={"clientHeaderTimeoutSeconds": 0.4}) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for byte in b"GET /prod/mock HTTP/1.1\r\nX-Long: " + b"a" * 100:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.05)

        dripping = asyncio.ensure_future(trickle())
        data, took = await closed_within(reader, 5)
        dripping.cancel()
        writer.close()
    assert data == b""
    assert took < 3


async def test_stalled_uploads_hold_no_in_flight_slot(tmp_path: Path) -> None:
    """More stalled uploads than in-flight slots: another client is still served."""
    async with raw_upstream() as up, gateway(
            tmp_path, up, server={"clientBodyTimeoutSeconds": 30},
            account={"maxConcurrency": 20}) as (gw, port):
        stalled = []
        for _ in range(60):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /prod/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
            stalled.append(writer)
        await asyncio.sleep(0.2)  # let the gateway read every head
        mock = await first_response(port, b"GET /prod/mock HTTP/1.1\r\nHost: x\r\n\r\n")
        proxied = await first_response(port, b"GET /prod/a HTTP/1.1\r\nHost: x\r\n\r\n")
        assert gw.runtime.inflight._count == 0
        for writer in stalled:
            writer.close()
    assert status_of(mock) == 200
    assert status_of(proxied) == 200


# --- 3. client aborts ------------------------------------------------------------------------


async def test_client_abort_is_a_499_not_a_server_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO)
    # a fresh bound: earlier tests in this process may have used the current window's lines
    monkeypatch.setattr(respond, "_gone_log", BoundedLog(logging.getLogger("sluice.handler")))
    async with raw_upstream() as up, gateway(tmp_path, up) as (gw, port):
        for _ in range(5):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /prod/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.transport.abort()  # a reset, as a killed client sends
        ok = await first_response(port, b"GET /prod/mock HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.2)
        assert status_of(ok) == 200
        assert metric(gw, "sluice_5xx_errors_total") == 0
        assert metric(gw, "sluice_4xx_errors_total") == 0
        assert metric(gw, "sluice_requests_total", status="499") == 5
    assert up.received == []
    assert "Traceback" not in caplog.text
    assert "unexpected error" not in caplog.text
    assert "client closed the connection" in caplog.text
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert sorted(line.split()[1] for line in lines) == ["200", *["499"] * 5]


async def test_client_gone_during_a_slow_backend_is_a_499(tmp_path: Path) -> None:
    async with raw_upstream("stall") as up, gateway(tmp_path, up) as (gw, port):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /prod/slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.transport.abort()
        await asyncio.sleep(1.0)  # the 800 ms integration timeout passes
        assert metric(gw, "sluice_requests_total", status="499") == 1
        assert metric(gw, "sluice_5xx_errors_total") == 0


# --- 4. log amplification ----------------------------------------------------------------------


async def test_malformed_requests_log_a_bounded_number_of_short_lines(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sluice")
    async with raw_upstream() as up, gateway(tmp_path, up) as (_, port):
        for _ in range(100):
            response = await exchange(port, b"GET /prod/a HTTP/1.1\r\nHost: x\r\nBad Header\r\n"
                                            b"\r\n", timeout=3)
            assert response.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400"))
            assert b"Bad Header" not in response  # the offending bytes are not echoed
    records = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert 1 <= len(records) <= 10
    assert all(r.exc_info is None and len(r.getMessage()) < 400 for r in records)
    assert "Traceback" not in caplog.text
    assert up.received == []


# --- upstream faults -------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "status"), [("reset", 502), ("garbage", 502), ("stall", 504)])
async def test_upstream_faults_answer_aws_errors(tmp_path: Path, mode: str, status: int) -> None:
    async with raw_upstream(mode) as up, gateway(tmp_path, up) as (_, port):  # type: ignore[arg-type]
        began = time.monotonic()
        response = await first_response(port, b"GET /prod/a HTTP/1.1\r\nHost: x\r\n\r\n")
        took = time.monotonic() - began
        after = await first_response(port, b"GET /prod/mock HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == status
    assert took < 3  # the 800 ms integration timeout bounds the stall
    assert status_of(after) == 200
    assert up.request_lines() == ["GET /public/a HTTP/1.1"]
