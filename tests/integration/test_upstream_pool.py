"""Both Upstream implementations against real servers on 127.0.0.1 port 0.

aiohttp apps stand in for ordinary backends; ``RawServer`` writes exact bytes for the framing
cases (close-delimited bodies, HEAD with a length, stale keep-alive, malformed responses).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from proxy.errors import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from proxy.upstream import (
    ClientSessionUpstream,
    Origin,
    PoolLimits,
    PoolUpstream,
    Upstream,
    UpstreamResponse,
)
from tests.support.waiting import eventually

# -- servers ------------------------------------------------------------------------------


@dataclass
class Request:
    conn: int  # 1-based number of the connection it came on
    index: int  # 1-based number of the request on that connection
    head: bytes
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Reply:
    data: bytes = b""
    close: bool = False  # close the connection after writing data
    hold: bool = False  # answer nothing; wait for the client to go away


class RawServer:
    """An HTTP/1.1 server that answers each request with the exact bytes ``respond`` gives."""

    def __init__(self, respond: Callable[[Request], Reply | Awaitable[Reply]]) -> None:
        self.respond = respond
        self.accepted = 0
        self.open = 0
        self.requests: list[Request] = []
        self.disconnected = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Origin:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return Origin("http", "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        conn, index = self.accepted, 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                index += 1
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = [tuple(x.split(": ", 1)) for x in lines[1:] if x]
                fields = {k.lower(): v for k, v in headers}
                body = b""
                if "content-length" in fields:
                    body = await reader.readexactly(int(fields["content-length"]))
                elif fields.get("transfer-encoding") == "chunked":
                    while size := int((await reader.readuntil(b"\r\n"))[:-2], 16):
                        body += (await reader.readexactly(size + 2))[:-2]
                    await reader.readexactly(2)
                req = Request(conn, index, head, method, target, headers, body)  # type: ignore[arg-type]
                self.requests.append(req)
                reply = self.respond(req)
                if not isinstance(reply, Reply):
                    reply = await reply
                if reply.hold:
                    await reader.read()  # until the client disconnects
                    return
                writer.write(reply.data)
                await writer.drain()
                if reply.close:
                    return
        finally:
            self.open -= 1
            writer.close()
            self.disconnected.set()


class AppServer:
    """An aiohttp app on port 0 that remembers how many connections it has seen."""

    def __init__(self) -> None:
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.runner: web.AppRunner | None = None
        self.peers: set[tuple[str, int]] = set()
        self.peak_open = 0

    def track(self, request: web.Request) -> None:
        assert self.runner is not None and self.runner.server is not None
        self.peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        self.peak_open = max(self.peak_open, self.open_connections)

    @property
    def open_connections(self) -> int:
        assert self.runner is not None and self.runner.server is not None
        return len(self.runner.server.connections)

    async def start(self, scheme: str = "http", ssl_ctx: object = None) -> Origin:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_ctx)  # type: ignore[arg-type]
        await site.start()
        port = self.runner.addresses[0][1]
        return Origin(scheme, "127.0.0.1", port, tls_insecure=False)

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


BIG = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # 5 MiB


def make_app(server: AppServer) -> None:
    async def text(request: web.Request) -> web.Response:
        server.track(request)
        return web.Response(text="hello")

    async def echo(request: web.Request) -> web.Response:
        server.track(request)
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "path_qs": request.path_qs,
                "headers": list(request.headers.items()),
                "length": len(body),
                "sha": hashlib.sha256(body).hexdigest(),
            }
        )

    async def big(request: web.Request) -> web.Response:
        server.track(request)
        return web.Response(body=BIG)

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        server.track(request)
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(BIG), 256 * 1024):
            await resp.write(BIG[i : i + 256 * 1024])
        await resp.write_eof()
        return resp

    async def chunked(request: web.Request) -> web.StreamResponse:
        server.track(request)
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await resp.write(part)
            await asyncio.sleep(0.01)  # separate packets, so the body is not complete at once
        await resp.write_eof()
        return resp

    async def no_content(request: web.Request) -> web.Response:
        server.track(request)
        return web.Response(status=204)

    async def ident(request: web.Request) -> web.Response:
        server.track(request)
        await asyncio.sleep(0.001 * (int(request.match_info["n"]) % 7))
        server.track(request)
        return web.Response(text=request.match_info["n"])

    server.app.router.add_route("*", "/text", text)
    server.app.router.add_route("*", "/echo", echo)
    server.app.router.add_get("/big", big)
    server.app.router.add_get("/big-chunked", big_chunked)
    server.app.router.add_get("/chunked", chunked)
    server.app.router.add_get("/no-content", no_content)
    server.app.router.add_get("/id/{n}", ident)


# -- fixtures -----------------------------------------------------------------------------


def make_upstream(kind: str, limits: PoolLimits | None = None) -> Upstream:
    if kind == "pool":
        return PoolUpstream(limits or PoolLimits())
    return ClientSessionUpstream()


@pytest.fixture(params=["pool", "session"])
async def upstream(request: pytest.FixtureRequest) -> AsyncIterator[Upstream]:
    up = make_upstream(request.param)
    yield up
    await up.aclose()


@pytest.fixture
async def app() -> AsyncIterator[tuple[AppServer, Origin]]:
    server = AppServer()
    make_app(server)
    origin = await server.start()
    yield server, origin
    await server.stop()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., Awaitable[tuple[RawServer, Origin]]]]:
    servers: list[RawServer] = []

    async def start(
        respond: Callable[[Request], Reply | Awaitable[Reply]],
    ) -> tuple[RawServer, Origin]:
        server = RawServer(respond)
        servers.append(server)
        return server, await server.start()

    yield start
    for server in servers:
        await server.stop()


async def read_all(resp: UpstreamResponse) -> bytes:
    if resp.body is not None:
        return resp.body
    return b"".join([chunk async for chunk in resp.stream()])


async def fetch(
    up: Upstream,
    origin: Origin,
    target: str,
    method: str = "GET",
    body: bytes | AsyncIterator[bytes] | None = None,
    headers: list[tuple[str, str]] | None = None,
    timeout: float = 5.0,
) -> tuple[UpstreamResponse, bytes]:
    resp = await up.request(origin, method, target, headers or [], body, timeout)
    try:
        data = await read_all(resp)
    finally:
        resp.release()
    return resp, data


def ok(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


# -- framing ------------------------------------------------------------------------------


async def test_content_length_body_is_buffered(upstream: Upstream, app: tuple) -> None:
    _, origin = app
    resp = await upstream.request(origin, "GET", "/text", [], None, 5)
    assert resp.status == 200
    assert resp.reason == "OK"
    assert resp.body == b"hello"
    assert ("Content-Length", "5") in resp.headers
    resp.release()
    resp.release()  # idempotent


async def test_chunked_body(upstream: Upstream, app: tuple) -> None:
    _, origin = app
    resp, data = await fetch(upstream, origin, "/chunked")
    assert data == b"one,two,three"
    assert ("Transfer-Encoding", "chunked") in resp.headers


async def test_close_delimited_body_ends_at_eof_and_is_not_reused(
    upstream: Upstream, raw: Callable
) -> None:
    server, origin = await raw(lambda r: Reply(b"HTTP/1.1 200 OK\r\n\r\nuntil eof", close=True))
    for _ in range(2):
        _, data = await fetch(upstream, origin, "/")
        assert data == b"until eof"
    assert server.accepted == 2


@pytest.mark.parametrize(
    "reply",
    [
        ok(b"bye", "Connection: close\r\n"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye",
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_connection_not_reused_when_backend_says_close(
    upstream: Upstream, raw: Callable, reply: bytes
) -> None:
    # The server would happily serve a second request on the same connection: only the
    # client's reading of the response stops the reuse.
    server, origin = await raw(lambda r: Reply(reply))
    for _ in range(2):
        _, data = await fetch(upstream, origin, "/")
        assert data == b"bye"
    assert server.accepted == 2


async def test_keep_alive_connection_is_reused(upstream: Upstream, app: tuple) -> None:
    server, origin = app
    for _ in range(10):
        _, data = await fetch(upstream, origin, "/text")
        assert data == b"hello"
    assert len(server.peers) == 1


async def test_head_with_content_length_has_no_body_and_keeps_the_connection(
    upstream: Upstream, raw: Callable
) -> None:
    def respond(req: Request) -> Reply:
        if req.method == "HEAD":
            return Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        return Reply(ok(b"after head"))

    server, origin = await raw(respond)
    resp, data = await fetch(upstream, origin, "/", method="HEAD")
    assert (resp.status, data) == (200, b"")
    assert ("Content-Length", "100") in resp.headers
    _, data = await fetch(upstream, origin, "/")
    assert data == b"after head"
    assert server.accepted == 1


async def test_head_against_aiohttp_app(upstream: Upstream, app: tuple) -> None:
    server, origin = app
    resp, data = await fetch(upstream, origin, "/text", method="HEAD")
    assert (resp.status, data) == (200, b"")
    _, data = await fetch(upstream, origin, "/text")
    assert data == b"hello"
    assert len(server.peers) == 1


async def test_204_has_no_body_and_keeps_the_connection(upstream: Upstream, app: tuple) -> None:
    server, origin = app
    resp, data = await fetch(upstream, origin, "/no-content")
    assert (resp.status, data) == (204, b"")
    _, data = await fetch(upstream, origin, "/text")
    assert data == b"hello"
    assert len(server.peers) == 1


async def test_304_with_content_length_has_no_body(upstream: Upstream, raw: Callable) -> None:
    def respond(req: Request) -> Reply:
        if req.index == 1:
            return Reply(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: x\r\n\r\n")
        return Reply(ok(b"next"))

    server, origin = await raw(respond)
    resp, data = await fetch(upstream, origin, "/")
    assert (resp.status, data) == (304, b"")
    _, data = await fetch(upstream, origin, "/")
    assert data == b"next"
    assert server.accepted == 1


async def test_informational_response_is_skipped(upstream: Upstream, raw: Callable) -> None:
    _, origin = await raw(lambda r: Reply(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final")))
    resp, data = await fetch(upstream, origin, "/", method="PUT", body=b"x")
    assert (resp.status, data) == (200, b"final")


async def test_response_headers_keep_case_order_and_duplicates(
    upstream: Upstream, raw: Callable
) -> None:
    extra = "X-Mixed-Case: A b\r\nx-dup: 1\r\nX-Dup: 2\r\nX-Latin: caf\xe9\r\n"
    reply = f"HTTP/1.1 201 Created Here\r\n{extra}Content-Length: 0\r\n\r\n".encode("latin-1")
    _, origin = await raw(lambda r: Reply(reply))
    resp, _ = await fetch(upstream, origin, "/")
    assert (resp.status, resp.reason) == (201, "Created Here")
    names = [h for h in resp.headers if h[0].lower().startswith("x-")]
    assert names == [("X-Mixed-Case", "A b"), ("x-dup", "1"), ("X-Dup", "2"), ("X-Latin", "café")]


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        b"garbage\r\n\r\n",
    ],
    ids=["status", "length", "garbage"],
)
async def test_malformed_response_is_a_protocol_error(
    upstream: Upstream, raw: Callable, reply: bytes
) -> None:
    _, origin = await raw(lambda r: Reply(reply))
    with pytest.raises(UpstreamProtocolError):
        await fetch(upstream, origin, "/")


async def test_truncated_body_is_a_protocol_error(upstream: Upstream, raw: Callable) -> None:
    _, origin = await raw(
        lambda r: Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", True)
    )
    with pytest.raises(UpstreamProtocolError):
        await fetch(upstream, origin, "/")


# -- request bodies -----------------------------------------------------------------------


async def test_request_framing(upstream: Upstream, raw: Callable) -> None:
    server, origin = await raw(lambda r: Reply(ok(b"")))

    async def gen() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b""
        yield b"cd"

    await fetch(upstream, origin, "/a?b=1", headers=[("X-Keep", "Case"), ("Host", "evil")])
    await fetch(upstream, origin, "/", method="POST")
    await fetch(upstream, origin, "/", method="DELETE")
    await fetch(upstream, origin, "/", method="PUT", body=b"12345")
    await fetch(upstream, origin, "/", method="POST", body=gen())
    get, post, delete, put, chunked = [
        {k.lower(): v for k, v in r.headers} for r in server.requests
    ]
    assert server.requests[0].target == "/a?b=1"
    assert get["host"] == f"127.0.0.1:{server.port}"
    assert get["x-keep"] == "Case"
    assert "content-length" not in get and "transfer-encoding" not in get
    assert post["content-length"] == "0"
    assert delete.get("content-length", "0") == "0"  # aiohttp sends 0; the pool nothing
    assert put["content-length"] == "5" and server.requests[3].body == b"12345"
    assert chunked["transfer-encoding"] == "chunked" and "content-length" not in chunked
    assert server.requests[4].body == b"abcd"


async def test_pool_request_head_bytes_exactly(raw: Callable) -> None:
    server, origin = await raw(lambda r: Reply(ok(b"")))
    up = PoolUpstream()
    try:
        await fetch(up, origin, "/p?q=1", headers=[("X-A", "1"), ("content-length", "99")])
        await fetch(up, origin, "/", method="POST", body=b"xyz")
        await fetch(up, origin, "/", method="DELETE")
    finally:
        await up.aclose()
    port = server.port
    assert server.requests[0].head == (
        f"GET /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-A: 1\r\n\r\n".encode()
    )
    assert server.requests[1].head == (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 3\r\n\r\n".encode()
    )
    assert (
        server.requests[2].head == f"DELETE / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    )


async def test_large_streamed_request_body(upstream: Upstream, app: tuple) -> None:
    _, origin = app
    sent = hashlib.sha256()

    async def gen() -> AsyncIterator[bytes]:
        for i in range(128):
            chunk = bytes([i]) * 65536  # 8 MiB in all: the writes outrun the socket
            sent.update(chunk)
            yield chunk

    resp, data = await fetch(upstream, origin, "/echo", method="PUT", body=gen())
    assert resp.status == 200
    echoed = json.loads(data)
    assert echoed["length"] == 128 * 65536
    assert echoed["sha"] == sent.hexdigest()
    assert ("Transfer-Encoding", "chunked") in [tuple(h) for h in echoed["headers"]]


# -- streamed responses -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_large_body_is_streamed(upstream: Upstream, app: tuple, path: str) -> None:
    _, origin = app
    resp = await upstream.request(origin, "GET", path, [], None, 5)
    try:
        assert resp.body is None
        got = bytearray()
        async for chunk in resp.stream():
            got += chunk
    finally:
        resp.release()
    assert got == BIG


async def test_streamed_body_applies_backpressure(upstream: Upstream) -> None:
    total = 32 * 1024 * 1024
    progress = {"sent": 0}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
        block = b"z" * 65536
        while progress["sent"] < total:
            writer.write(block)
            await writer.drain()
            progress["sent"] += len(block)
        await reader.read()
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    origin = Origin("http", "127.0.0.1", srv.sockets[0].getsockname()[1])
    try:
        resp = await upstream.request(origin, "GET", "/", [], None, 5)
        assert resp.body is None
        # Not reading: the server must stall once the client's queue and the socket
        # buffers are full, far short of the whole body.
        last = -1
        while progress["sent"] != last:
            last = progress["sent"]
            await asyncio.sleep(0.2)
        assert progress["sent"] < total // 2, progress
        n = 0
        async for chunk in resp.stream():
            n += len(chunk)
        assert n == total
        resp.release()
    finally:
        srv.close()
        await upstream.aclose()
        await srv.wait_closed()


# -- errors and retries -------------------------------------------------------------------


async def test_stale_pooled_connection_is_retried_once_for_get(
    upstream: Upstream, raw: Callable
) -> None:
    # The backend drops its keep-alive connection as the second request arrives on it:
    # what a client sees when the backend's idle timeout races its next request.
    def respond(req: Request) -> Reply:
        if req.index == 2:
            return Reply(close=True)
        return Reply(ok(f"conn {req.conn}".encode()))

    server, origin = await raw(respond)
    assert (await fetch(upstream, origin, "/"))[1] == b"conn 1"
    assert (await fetch(upstream, origin, "/"))[1] == b"conn 2"
    assert server.accepted == 2
    assert len(server.requests) == 3


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_stale_pooled_connection_is_not_retried_for_post(
    upstream: Upstream, raw: Callable, method: str
) -> None:
    def respond(req: Request) -> Reply:
        return Reply(close=True) if req.index == 2 else Reply(ok(b"first"))

    server, origin = await raw(respond)
    assert (await fetch(upstream, origin, "/", method=method, body=b"1"))[1] == b"first"
    with pytest.raises(UpstreamConnectError):
        await fetch(upstream, origin, "/", method=method, body=b"2")
    assert server.accepted == 1
    assert [r.body for r in server.requests] == [b"1", b"2"]


async def test_idle_connection_closed_by_backend_is_not_used(
    upstream: Upstream, raw: Callable
) -> None:
    server, origin = await raw(lambda r: Reply(ok(b"once"), close=True))
    await fetch(upstream, origin, "/", method="POST", body=b"a")
    await server.disconnected.wait()
    await asyncio.sleep(0.05)  # let the client's loop read the FIN
    _, data = await fetch(upstream, origin, "/", method="POST", body=b"b")
    assert data == b"once"
    assert server.accepted == 2


async def test_refused_port_fails_fast(upstream: Upstream) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(UpstreamConnectError):
        await upstream.request(Origin("http", "127.0.0.1", port), "GET", "/", [], None, 10)
    assert time.monotonic() - start < 2


async def test_reset_on_fresh_connection_is_a_connect_error(
    upstream: Upstream, raw: Callable
) -> None:
    server, origin = await raw(lambda r: Reply(close=True))
    with pytest.raises(UpstreamConnectError):
        await fetch(upstream, origin, "/")
    assert server.accepted <= 2  # no retry loop on fresh connections


async def test_timeout_raises_near_deadline_and_closes_the_connection(
    upstream: Upstream, raw: Callable
) -> None:
    server, origin = await raw(lambda r: Reply(hold=True))
    start = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await upstream.request(origin, "GET", "/", [], None, 0.3)
    elapsed = time.monotonic() - start
    assert 0.29 <= elapsed < 1.0
    await asyncio.wait_for(server.disconnected.wait(), 2)
    assert server.open == 0


async def test_timeout_covers_a_buffered_body(upstream: Upstream, raw: Callable) -> None:
    # Headers and part of a small body, then silence.
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
        await reader.read()
        writer.close()
        closed.set()

    closed = asyncio.Event()
    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    origin = Origin("http", "127.0.0.1", srv.sockets[0].getsockname()[1])
    try:
        with pytest.raises(UpstreamTimeout):
            await upstream.request(origin, "GET", "/", [], None, 0.3)
        await asyncio.wait_for(closed.wait(), 2)
    finally:
        srv.close()
        await srv.wait_closed()


async def test_streamed_body_has_an_idle_timeout(upstream: Upstream) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
        await reader.read()
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    origin = Origin("http", "127.0.0.1", srv.sockets[0].getsockname()[1])
    try:
        resp = await upstream.request(origin, "GET", "/", [], None, 0.3)
        assert resp.body is None
        start = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            async for _ in resp.stream():
                pass
        assert 0.29 <= time.monotonic() - start < 1.0
        resp.release()
    finally:
        await upstream.aclose()
        srv.close()
        await srv.wait_closed()


async def test_unread_streamed_body_closes_the_connection(upstream: Upstream, app: tuple) -> None:
    server, origin = app
    resp = await upstream.request(origin, "GET", "/big", [], None, 5)
    assert resp.body is None
    resp.release()
    await eventually(lambda: server.open_connections == 0)
    _, data = await fetch(upstream, origin, "/text")
    assert data == b"hello"
    assert len(server.peers) == 2


# -- concurrency and lifecycle ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pool", "session"])
async def test_500_concurrent_requests_none_lost_none_leaked(app: tuple, kind: str) -> None:
    server, origin = app
    limit = 20 if kind == "pool" else 256
    up = make_upstream(kind, PoolLimits(max_connections=limit, max_idle=10))

    async def one(i: int) -> bytes:
        _, data = await fetch(up, origin, f"/id/{i}", timeout=20)
        return data

    try:
        got = await asyncio.gather(*(one(i) for i in range(500)))
    finally:
        await up.aclose()
    assert got == [str(i).encode() for i in range(500)]
    assert 1 < server.peak_open <= limit
    await eventually(lambda: server.open_connections == 0)


async def test_pool_aclose_leaves_no_transport(app: tuple) -> None:
    server, origin = app
    up = PoolUpstream(PoolLimits(max_connections=8))
    held = await up.request(origin, "GET", "/big", [], None, 5)  # busy, mid-stream
    await asyncio.gather(*(fetch(up, origin, "/text") for _ in range(8 - 1)))
    pool = up._pools[origin]
    assert pool._count == len(pool._all) >= 2
    await up.aclose()
    assert not pool._all and pool._count == 0
    await eventually(lambda: server.open_connections == 0)
    held.release()
    with pytest.raises(UpstreamConnectError):
        await pool.acquire(0.0, False)


async def test_pool_waits_for_a_free_connection_within_the_timeout(app: tuple) -> None:
    server, origin = app
    up = PoolUpstream(PoolLimits(max_connections=1))
    try:
        held = await up.request(origin, "GET", "/big", [], None, 5)
        start = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await up.request(origin, "GET", "/text", [], None, 0.2)
        assert time.monotonic() - start < 1.0
        waiting = asyncio.ensure_future(fetch(up, origin, "/text"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        assert len(await read_all(held)) == len(BIG)
        held.release()
        assert (await waiting)[1] == b"hello"
        assert len(server.peers) == 1  # the waiter got the released connection
    finally:
        await up.aclose()


async def test_pool_keeps_at_most_max_idle_connections(app: tuple) -> None:
    server, origin = app
    up = PoolUpstream(PoolLimits(max_connections=4, max_idle=1))
    try:
        held = [await up.request(origin, "GET", "/big", [], None, 5) for _ in range(4)]
        for resp in held:
            await read_all(resp)
        for resp in held:
            resp.release()
        await eventually(lambda: server.open_connections == 1)
        assert len(up._pools[origin]._idle) == 1
    finally:
        await up.aclose()


async def test_pool_closes_connections_idle_past_idle_timeout(app: tuple) -> None:
    server, origin = app
    up = PoolUpstream(PoolLimits(idle_timeout_s=0.2))
    try:
        held = await up.request(origin, "GET", "/big", [], None, 5)
        await fetch(up, origin, "/text")  # idle from now
        await asyncio.sleep(0.1)
        await read_all(held)
        held.release()  # idle 0.1 s later: expires in a later sweep than the first
        assert server.open_connections == 2
        await eventually(lambda: server.open_connections == 0)
        assert (await fetch(up, origin, "/text"))[1] == b"hello"  # a new one, not a dead one
        assert len(server.peers) == 3
    finally:
        await up.aclose()


# -- https --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    yield key, crt


async def test_https_verifies_unless_tls_insecure(
    upstream: Upstream, cert: tuple[Path, Path]
) -> None:
    import ssl

    key, crt = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    server = AppServer()
    make_app(server)
    origin = await server.start("https", ctx)
    try:
        with pytest.raises(UpstreamConnectError):
            await fetch(upstream, origin, "/text")
        insecure = Origin("https", origin.host, origin.port, tls_insecure=True)
        _, data = await fetch(upstream, insecure, "/text")
        assert data == b"hello"
        await upstream.aclose()
    finally:
        await server.stop()


# -- uvloop -------------------------------------------------------------------------------


def test_pool_on_uvloop() -> None:
    # The rest of the module runs on asyncio's default loop (pytest-asyncio's); production
    # runs on uvloop, whose transports differ (abort, EOF, pause_reading), so the core
    # behaviours run once more there.
    import uvloop

    async def scenario() -> None:
        server = AppServer()
        make_app(server)
        origin = await server.start()
        hold = RawServer(lambda r: Reply(hold=True))
        held_origin = await hold.start()
        up = PoolUpstream(PoolLimits(max_connections=16))
        try:
            assert (await fetch(up, origin, "/text"))[1] == b"hello"
            assert (await fetch(up, origin, "/chunked"))[1] == b"one,two,three"
            assert (await fetch(up, origin, "/text", method="HEAD"))[1] == b""
            resp = await up.request(origin, "GET", "/big-chunked", [], None, 5)
            assert resp.body is None and await read_all(resp) == BIG
            resp.release()
            assert len(server.peers) == 1
            got = await asyncio.gather(*(fetch(up, origin, f"/id/{i}") for i in range(200)))
            assert [data for _, data in got] == [str(i).encode() for i in range(200)]
            assert server.peak_open <= 16
            with pytest.raises(UpstreamTimeout):
                await up.request(held_origin, "GET", "/", [], None, 0.2)
            await asyncio.wait_for(hold.disconnected.wait(), 2)
        finally:
            await up.aclose()
            await eventually(lambda: server.open_connections == 0)
            await hold.stop()
            await server.stop()

    uvloop.run(scenario())
