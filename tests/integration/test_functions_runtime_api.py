"""The Runtime API's reading of requests on a real socket, fed read by read: the headers that
matter (``Lambda-Runtime-Function-Error-Type``, ``Expect: 100-continue``) found in the head
bytes wherever the reads split them, and requests pipelined in one read."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from proxy.functions.runtime_api import (
    ACCEPTED,
    RuntimeApiConnection,
    error_type,
    expects_continue,
    head_end,
)

RID = "8f1c2d3e-0000-4000-8000-000000000001"
INVOCATION = f"/2018-06-01/runtime/invocation/{RID}"


@dataclass
class Owner:
    """An instance as the connection sees it, recording what it is told."""

    calls: list[tuple[str, bytes, str | None]] = field(default_factory=list)
    parked: int = 0

    def next(self, conn: RuntimeApiConnection) -> None:
        self.parked += 1

    def respond(self, request_id: str, body: bytes) -> bytes:
        self.calls.append(("response", body, None))
        return ACCEPTED

    def fail(self, request_id: str, body: bytes, error_type: str | None) -> bytes:
        self.calls.append(("error", body, error_type))
        return ACCEPTED

    def init_error(self, body: bytes, error_type: str | None) -> bytes:
        self.calls.append(("init", body, error_type))
        return ACCEPTED

    def lost(self, conn: RuntimeApiConnection) -> None:
        pass


@dataclass
class Wire:
    owner: Owner
    conn: RuntimeApiConnection
    peer: socket.socket

    def feed(self, *reads: bytes) -> None:
        for data in reads:
            self.conn.data_received(data)

    async def answers(self) -> bytes:
        """What the connection has written so far."""
        await asyncio.sleep(0)
        chunks = []
        while True:
            try:
                chunks.append(self.peer.recv(65536))
            except BlockingIOError:
                return b"".join(chunks)


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    owner = Owner()
    loop = asyncio.get_running_loop()
    transport, conn = await loop.connect_accepted_socket(lambda: RuntimeApiConnection(owner),
                                                         sock=ours)
    yield Wire(owner, conn, peer)
    transport.close()
    peer.close()


def post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers,
             f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize("split", [None, 10, 60, 75, 110])
async def test_the_error_type_is_read_wherever_the_reads_split_the_head(
        wire: Wire, split: int | None) -> None:
    request = post(f"{INVOCATION}/error", b"", "lambda-RUNTIME-function-error-type:  Custom.Thing ")
    wire.feed(*((request,) if split is None else (request[:split], request[split:])))
    assert wire.owner.calls == [("error", b"", "Custom.Thing")]
    assert (await wire.answers()).startswith(b"HTTP/1.1 202 Accepted\r\n")


async def test_an_error_without_the_header_has_no_type_and_init_error_reads_it_too(
        wire: Wire) -> None:
    wire.feed(post(f"{INVOCATION}/error", b'{"errorMessage": "x"}', "X-Other: 1"),
              post("/2018-06-01/runtime/init/error", b"",
                   "Lambda-Runtime-Function-Error-Type: Runtime.Bad"))
    assert wire.owner.calls == [("error", b'{"errorMessage": "x"}', None),
                                ("init", b"", "Runtime.Bad")]


async def test_a_head_that_asks_and_comes_alone_gets_100_continue(wire: Wire) -> None:
    request = post(f"{INVOCATION}/response", b'"big"', "Expect: 100-Continue")
    head, body = request[:-5], request[-5:]
    wire.feed(head)
    assert await wire.answers() == b"HTTP/1.1 100 Continue\r\n\r\n"
    wire.feed(body)
    assert (await wire.answers()).startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert wire.owner.calls == [("response", b'"big"', None)]


async def test_no_100_continue_unasked_or_with_the_body_already_here(wire: Wire) -> None:
    unasked = post(f"{INVOCATION}/response", b'"late"')
    wire.feed(unasked[:-6])  # the body comes in a later read
    assert await wire.answers() == b""
    wire.feed(unasked[-6:])
    # asked, but the body came with the head: nothing to wait for (RFC 9110 10.1.1)
    wire.feed(post(f"{INVOCATION}/response", b'"now"', "Expect: 100-continue"))
    answers = await wire.answers()
    assert b"100 Continue" not in answers
    assert answers.count(b"HTTP/1.1 202 Accepted\r\n") == 2


async def test_requests_pipelined_in_one_read_are_each_answered(wire: Wire) -> None:
    wire.feed(post(f"{INVOCATION}/response", b'"ok"') + NEXT)
    assert wire.owner.calls == [("response", b'"ok"', None)]
    assert wire.owner.parked == 1
    wire.feed(post(f"{INVOCATION}/response", b'"a"', "Lambda-Runtime-Function-Error-Type: A")
              + post(f"{INVOCATION}/error", b"", "Lambda-Runtime-Function-Error-Type: B"))
    assert wire.owner.calls[1:] == [("response", b'"a"', None), ("error", b"", "B")]


def test_head_readers() -> None:
    head = (b"POST /x HTTP/1.1\r\nexpect: 100-continue\r\n"
            b"Lambda-Runtime-Function-Error-Type: One\r\n"
            b"lambda-runtime-function-error-type: Two\r\n\r\n"
            b"Lambda-Runtime-Function-Error-Type: in the body\r\n")
    end = head_end(head)
    assert head[end:end + 4] == b"\r\n\r\n"
    assert error_type(head, 0, end) == "Two"  # the last one wins
    assert expects_continue(head, 0, end)
    assert not expects_continue(b"POST /x HTTP/1.1\r\nExpect: 100-continued\r\n\r\n")
    assert not expects_continue(b"POST /x HTTP/1.1\r\nX-Expect: 100-continue\r\n\r\n")
    assert error_type(b"GET / HTTP/1.1\r\n\r\n") is None
    assert head_end(b"GET / HTTP/1.1\nHost: a\n\nbody") == 22
