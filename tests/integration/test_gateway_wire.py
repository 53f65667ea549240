"""The bytes of a buffered response on the wire (proxy/response.py): framing, keep-alive and
Connection rules, HEAD, 204 and 304, read with a raw socket so nothing is smoothed over by a
client library."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from proxy.response import encode_head
from tests.support.gateway import run_gateway, serve_app, write_config

OPENAPI = """
openapi: 3.0.1
info: {title: wire, version: "1"}
paths:
  /mock:
    get:
      responses: {}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses: {default: {statusCode: "200", responseTemplates: {application/json: '{"mock": 1}'}}}
  /{proxy+}:
    x-amazon-apigateway-any-method:
      parameters: [{name: proxy, in: path, required: true, schema: {type: string}}]
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "http://${stageVariables.backend}/{proxy}"
        requestParameters:
          integration.request.path.proxy: method.request.path.proxy
"""


def _backend() -> web.Application:
    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        if code in (204, 304):
            return web.Response(status=code)
        return web.Response(status=code, text=f"status {code}")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="hello from the backend")

    app = web.Application()
    app.router.add_get("/status/{code}", status)
    app.router.add_route("*", "/ok", ok)
    return app


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    async with serve_app(_backend()) as backend:
        config = write_config(tmp_path, OPENAPI,
                              variables={"backend": backend.removeprefix("http://")})
        async with run_gateway(config) as gw:
            host, port = gw.url.removeprefix("http://").split(":")
            yield host, int(port)


class Wire:
    """One client connection; ``response`` reads one response as the bytes frame it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, *requests: str) -> None:
        self.writer.write("".join(requests).encode())

    async def response(self, *, head: bool = False) -> tuple[str, list[tuple[str, str]], bytes]:
        block = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *lines = block.decode("latin-1").split("\r\n")[:-2]
        headers = [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines)]
        lengths = [v for n, v in headers if n.lower() == "content-length"]
        assert len(lengths) <= 1, headers
        body = b""
        if lengths and not head:
            body = await asyncio.wait_for(self.reader.readexactly(int(lengths[0])), 5)
        return status_line, headers, body

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 5) == b""


@pytest.fixture
async def wire(gateway: tuple[str, int]) -> AsyncIterator[Wire]:
    reader, writer = await asyncio.open_connection(*gateway)
    try:
        yield Wire(reader, writer)
    finally:
        writer.close()


def _get(path: str, *, method: str = "GET", version: str = "1.1", extra: str = "") -> str:
    return f"{method} {path} HTTP/{version}\r\nHost: localhost\r\n{extra}\r\n"


def _names(headers: list[tuple[str, str]]) -> list[str]:
    return [n.lower() for n, _ in headers]


async def test_buffered_response_frames_and_keeps_the_connection(wire: Wire) -> None:
    # two pipelined requests in one write: each answer must be framed exactly by its length
    wire.send(_get("/prod/mock"), _get("/prod/ok"))
    status, headers, body = await wire.response()
    assert status == "HTTP/1.1 200 OK"
    assert body == b'{"mock": 1}'
    assert dict((n.lower(), v) for n, v in headers)["content-length"] == str(len(body))
    status, headers, body = await wire.response()
    assert status == "HTTP/1.1 200 OK"
    assert body == b"hello from the backend"
    names = _names(headers)
    assert "server" not in names  # AWS sends none; the backend's is remapped
    assert "x-amzn-remapped-server" in names
    assert "transfer-encoding" not in names and "connection" not in names
    assert names.count("date") == 1
    date = dict((n.lower(), v) for n, v in headers)["date"]
    assert email.utils.parsedate_to_datetime(date).tzname() == "UTC"
    for name in ("x-amzn-requestid", "x-amz-apigw-id", "x-amzn-trace-id"):
        assert names.count(name) == 1, name
    # still open: a third request on the same connection is answered
    wire.send(_get("/prod/mock"))
    assert (await wire.response())[0] == "HTTP/1.1 200 OK"


async def test_errors_are_framed_the_same_way(wire: Wire) -> None:
    wire.send(_get("/nostage/x"), _get("/prod/"))  # "/" is no resource: {proxy+} needs a segment
    status, headers, body = await wire.response()
    assert status == "HTTP/1.1 403 Forbidden"
    assert body == b'{"message":"Forbidden"}'
    status, headers, body = await wire.response()
    assert status == "HTTP/1.1 403 Forbidden"
    assert body == b'{"message":"Missing Authentication Token"}'
    assert dict((n.lower(), v) for n, v in headers)["x-amzn-errortype"] == (
        "MissingAuthenticationTokenException")


async def _next_is_the_mock(wire: Wire) -> None:
    # A body where none belongs (or a missing one) would be read as the start of this response.
    status, _, body = await wire.response()
    assert status == "HTTP/1.1 200 OK" and body == b'{"mock": 1}'


@pytest.mark.parametrize("code", [204, 304])
async def test_no_length_and_no_body_for_204_and_304(wire: Wire, code: int) -> None:
    wire.send(_get(f"/prod/status/{code}"), _get("/prod/mock"))
    status, headers, _ = await wire.response()
    assert status.startswith(f"HTTP/1.1 {code} ")
    assert "content-length" not in _names(headers)
    await _next_is_the_mock(wire)


async def test_head_has_headers_and_no_body(wire: Wire) -> None:
    wire.send(_get("/prod/ok", method="HEAD"), _get("/prod/mock"))
    status, _, _ = await wire.response(head=True)
    assert status == "HTTP/1.1 200 OK"
    await _next_is_the_mock(wire)


async def test_head_of_a_gateway_error_gives_the_length_without_the_body(wire: Wire) -> None:
    wire.send(_get("/nostage/x", method="HEAD"), _get("/prod/mock"))
    status, headers, _ = await wire.response(head=True)
    assert status == "HTTP/1.1 403 Forbidden"
    lengths = [v for n, v in headers if n.lower() == "content-length"]
    assert lengths == [str(len(b'{"message":"Forbidden"}'))]
    await _next_is_the_mock(wire)


async def test_http11_connection_close_is_answered_and_honoured(wire: Wire) -> None:
    wire.send(_get("/prod/mock", extra="Connection: close\r\n"))
    _, headers, body = await wire.response()
    assert body == b'{"mock": 1}'
    assert ("connection", "close") in [(n.lower(), v) for n, v in headers]
    assert await wire.closed()


async def test_http10_closes_unless_asked_to_keep_alive(gateway: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*gateway)
    w = Wire(reader, writer)
    try:
        w.send(_get("/prod/mock", version="1.0", extra="Connection: keep-alive\r\n"))
        status, headers, body = await w.response()
        assert status == "HTTP/1.0 200 OK" and body == b'{"mock": 1}'
        assert ("connection", "keep-alive") in [(n.lower(), v) for n, v in headers]
        w.send(_get("/prod/mock", version="1.0"))
        status, headers, body = await w.response()
        assert status == "HTTP/1.0 200 OK" and body == b'{"mock": 1}'
        assert "connection" not in _names(headers)
        assert await w.closed()
    finally:
        writer.close()


def test_header_holding_cr_or_lf_is_refused() -> None:
    head = encode_head(200, [("X-A", "ok")], 2, version=(1, 1), keep_alive=True,
                       head_request=False)
    assert head.startswith(b"HTTP/1.1 200 OK\r\nX-A: ok\r\nContent-Length: 2\r\nDate: ")
    assert head.endswith(b"\r\n\r\n")
    for bad in ([("X-A", "ok\r\nX-Evil: 1")], [("X-A", "a\nb")], [("X-A\r", "v")]):
        with pytest.raises(ValueError):
            encode_head(200, bad, 0, version=(1, 1), keep_alive=True, head_request=False)
