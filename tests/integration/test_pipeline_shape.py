"""The reshaped pipeline (issue 14): the phases each route gets, the invoker registry, the error
boundary once a response has started, and a runtime that closes everything even when one close
fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy import integrations
from proxy.config.loader import load_config
from proxy.config.model import Integration
from proxy.context import RequestContext
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.phases import api_key, limits
from proxy.runtime import Runtime
from proxy.upstream.base import UpstreamResponse
from tests.support.gateway import run_gateway, write_config
from tests.support.openapi import api, mock_route, proxy_route

OPENAPI = api({
    "/open": {"get": mock_route()},
    "/keyed": {"get": mock_route(security=["api_key"])},
    "/broken-stream": {"get": proxy_route("http://x.invalid/")},
}, title="shape", api_key=True)


def test_each_route_has_only_the_phases_it_needs(tmp_path: Path) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, OPENAPI)))
    stage = runtime.gateway.deployment.stage("petstore", "prod")
    assert stage is not None
    routes = {path: route for path, _, route in stage.router.resources()}
    keyless, keyed = routes["/open"].phases, routes["/keyed"].phases
    # the keyless route: limits only; the keyed route: the API key, then limits
    assert [p.__qualname__ for p in keyless] == ["keyless.<locals>.decide"]
    assert [p.__qualname__ for p in keyed] == ["phase.<locals>.check", "keyed.<locals>.decide"]
    assert keyless[0].__module__ == limits.__name__
    assert keyed[0].__module__ == api_key.__name__
    assert routes["/open"].invoker.type_name == "MOCK"


def test_invokers_come_from_the_registry() -> None:
    assert set(integrations.INVOKERS) >= {"HTTP_PROXY", "MOCK", "AWS_PROXY"}


class _BrokenStream(UpstreamResponse):
    """A backend response whose body fails with a bug (not an I/O error) after a first chunk."""

    __slots__ = ("body", "headers", "reason", "released", "status")

    def __init__(self) -> None:
        self.status = 200
        self.reason = "OK"
        self.headers = [("Content-Type", "text/plain")]
        self.body = None
        self.released = 0

    async def stream(self) -> AsyncIterator[bytes]:
        yield b"first part of the body\n"
        await asyncio.sleep(0)
        raise RuntimeError("a bug in the middle of a streamed body")

    def release(self) -> None:
        self.released += 1


class _BrokenStreamInvoker(Invoker):
    made: list[_BrokenStream] = []

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        self.type_name = "HTTP_PROXY"
        self.timeout_s = 1.0

    async def invoke(self, ctx: RequestContext) -> Outcome:
        upstream = _BrokenStream()
        self.made.append(upstream)
        return Outcome(200, list(upstream.headers), None, upstream)


async def test_an_error_after_the_status_line_cuts_the_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(integrations.INVOKERS, "HTTP_PROXY", _BrokenStreamInvoker)
    async with run_gateway(write_config(tmp_path, OPENAPI)) as gw:
        port = int(gw.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /prod/broken-stream HTTP/1.1\r\nHost: x\r\n\r\n")
        data = bytearray()
        async with asyncio.timeout(5):
            while chunk := await reader.read(65536):
                data += chunk
        writer.close()
    # one status line, the part of the body that was sent, then the connection closed:
    # never a second response (a 500) written after the first one started
    assert data.count(b"HTTP/1.1 ") == 1
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"first part of the body" in data
    assert b"Internal server error" not in data
    assert [u.released for u in _BrokenStreamInvoker.made] == [1]


async def test_runtime_closes_everything_when_one_close_fails(tmp_path: Path) -> None:
    config = load_config(write_config(
        tmp_path, OPENAPI, stage_extra={"accessLogSettings": {
            "format": "$context.requestId", "destination": str(tmp_path / "access.log")}}))
    runtime = Runtime(config)
    await runtime.start()
    runtime.write_access_log(str(tmp_path / "access.log"), "a line")
    writer = runtime.access_logs[str(tmp_path / "access.log")]
    closed: list[str] = []

    async def failing() -> None:
        closed.append("limiter")
        raise OSError("the store went away while closing")

    original_functions_close = runtime.functions.aclose

    async def functions_close() -> None:
        closed.append("functions")
        await original_functions_close()

    runtime.limiter.aclose = failing  # type: ignore[method-assign]
    runtime.functions.aclose = functions_close  # type: ignore[method-assign]
    with pytest.raises(OSError, match="went away"):
        await runtime.aclose()
    # the access log (closed before the failing limiter) and the functions (after it) both
    # closed: one failure does not keep the others open
    assert closed == ["limiter", "functions"]
    assert (tmp_path / "access.log").read_text() == "a line\n"
    assert not writer._thread.is_alive()
