"""The pool's pure parts: limit validation and request-head serialisation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import proxy.upstream
from proxy.upstream import Origin, PoolLimits, PoolUpstream
from proxy.upstream.pool import OriginPool


def test_public_surface_is_sorted() -> None:
    names = proxy.upstream.__all__
    assert names == sorted(names)
    assert set(names) == {
        "ClientSessionUpstream",
        "Origin",
        "PoolLimits",
        "PoolUpstream",
        "Upstream",
        "UpstreamResponse",
    }


def test_pool_limit_defaults() -> None:
    limits = PoolLimits()
    assert (limits.max_connections, limits.max_idle, limits.idle_timeout_s) == (256, 64, 30.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_connections": 0}, "max_connections must be an integer >= 1, got 0"),
        ({"max_connections": 2.5}, "max_connections must be an integer >= 1"),
        ({"max_connections": True}, "max_connections must be an integer >= 1"),
        ({"max_idle": -1}, "max_idle must be an integer >= 0, got -1"),
        ({"idle_timeout_s": 0}, "idle_timeout_s must be a number of seconds > 0, got 0"),
        ({"idle_timeout_s": "5"}, "idle_timeout_s must be a number of seconds > 0"),
        ({"connect_timeout_s": -1}, "connect_timeout_s must be a number of seconds > 0"),
    ],
)
def test_pool_limits_reject_with_what_is_allowed(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PoolLimits(**kwargs)  # type: ignore[arg-type]


def test_pool_limits_are_frozen_and_slotted() -> None:
    limits = PoolLimits()
    with pytest.raises(AttributeError):
        limits.max_idle = 1  # type: ignore[misc]
    assert not hasattr(limits, "__dict__")


def test_buffer_limit_is_validated() -> None:
    with pytest.raises(ValueError, match="buffer_limit must be an integer >= 0"):
        PoolUpstream(buffer_limit=-1)


def head(origin: Origin, method: str, headers: list[tuple[str, str]], body: object) -> bytes:
    pool = OriginPool(origin, PoolLimits(), 65536, asyncio.new_event_loop(), None)
    pool.loop.close()
    return pool.head(method, "/a/b?c=d", headers, body)


async def _chunks() -> AsyncIterator[bytes]:
    yield b"x"


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (Origin("http", "example.com", 80), "example.com"),
        (Origin("https", "example.com", 443), "example.com"),
        (Origin("http", "example.com", 8080), "example.com:8080"),
        (Origin("https", "example.com", 80), "example.com:80"),
        (Origin("http", "::1", 8080), "[::1]:8080"),
    ],
)
def test_host_header_has_port_only_when_not_default(origin: Origin, host: str) -> None:
    assert (
        head(origin, "GET", [], None) == f"GET /a/b?c=d HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    )


def test_framing_headers_from_the_caller_are_dropped_and_others_kept_in_order() -> None:
    given = [
        ("X-B", "2"),
        ("HOST", "evil"),
        ("content-length", "5"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
        ("x-a", "1"),
    ]
    got = head(Origin("http", "h", 80), "GET", given, None)
    assert got == b"GET /a/b?c=d HTTP/1.1\r\nHost: h\r\nX-B: 2\r\nx-a: 1\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "body", "framing"),
    [
        ("GET", None, ""),
        ("DELETE", None, ""),
        ("POST", None, "Content-Length: 0\r\n"),
        ("PUT", None, "Content-Length: 0\r\n"),
        ("PATCH", None, "Content-Length: 0\r\n"),
        ("POST", b"abc", "Content-Length: 3\r\n"),
        ("GET", b"", "Content-Length: 0\r\n"),
        ("POST", _chunks, "Transfer-Encoding: chunked\r\n"),
    ],
)
def test_body_framing(method: str, body: object, framing: str) -> None:
    if callable(body):
        body = body()  # an async iterator: made here, never started
    got = head(Origin("http", "h", 80), method, [], body)
    assert got == f"{method} /a/b?c=d HTTP/1.1\r\nHost: h\r\n{framing}\r\n".encode()
