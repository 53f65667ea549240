"""A pool connection's named states and the interface between it and its pool, against a real
aiohttp backend on 127.0.0.1 port 0: the states move NEW -> ACTIVE -> IDLE -> ACTIVE -> CLOSED
as the pool hands the connection out, parks it and loses it, and the pool's slot count and
idle list follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from proxy.errors import UpstreamTimeout
from proxy.upstream import Origin, PoolLimits
from proxy.upstream.connection import Connection, ConnectionState
from proxy.upstream.pool import OriginPool
from tests.support.gateway import serve_app
from tests.support.waiting import eventually


def _app(gate: asyncio.Event) -> web.Application:
    async def text(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def close(request: web.Request) -> web.Response:
        return web.Response(text="bye", headers={"Connection": "close"})

    async def slow(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/text", text)
    app.router.add_get("/close", close)
    app.router.add_get("/slow", slow)
    return app


@pytest.fixture
async def pool() -> AsyncIterator[OriginPool]:
    gate = asyncio.Event()
    async with serve_app(_app(gate)) as url:
        port = int(url.rsplit(":", 1)[1])
        origin = Origin("http", "127.0.0.1", port)
        pool = OriginPool(origin, PoolLimits(max_connections=2), 65536,
                          asyncio.get_running_loop(), None)
        yield pool
        gate.set()
        await pool.aclose()


async def _get(pool: OriginPool, conn: Connection, target: str, timeout: float = 5.0) -> bytes:
    head = pool.head("GET", target, [], None)
    deadline = pool.loop.time() + timeout
    resp = await conn.exchange(head, None, False, deadline, timeout)
    body = resp.body
    resp.release()
    assert body is not None
    return body


async def test_states_follow_the_connection_through_the_pool(pool: OriginPool) -> None:
    # what the pool's protocol factory makes: connecting, not yet the pool's
    assert Connection(pool, pool.loop, 65536).state is ConnectionState.NEW
    conn = await pool.acquire(pool.loop.time() + 5, False)
    assert conn.state is ConnectionState.ACTIVE
    assert await _get(pool, conn, "/text") == b"hello"
    assert conn.state is ConnectionState.IDLE  # released cleanly: parked
    assert conn.idle_since > 0.0
    assert pool.take_idle() is conn
    assert conn.state is ConnectionState.ACTIVE
    assert pool.take_idle() is None  # handed out: no longer idle

    assert await _get(pool, conn, "/close") == b"bye"  # Connection: close
    await asyncio.wait_for(conn.lost, 2)
    assert conn.state is ConnectionState.CLOSED
    assert pool.take_idle() is None
    # its slot is free again: both slots can connect at once
    both = await asyncio.gather(*(pool.acquire(pool.loop.time() + 5, False) for _ in range(2)))
    assert len(set(both)) == 2 and conn not in both


async def test_an_idle_connection_the_backend_closes_is_closed_and_forgotten(
    pool: OriginPool,
) -> None:
    conn = await pool.acquire(pool.loop.time() + 5, False)
    assert await _get(pool, conn, "/text") == b"hello"
    assert conn.state is ConnectionState.IDLE
    conn.close()  # as a backend's idle timeout would: the transport goes away while parked
    await asyncio.wait_for(conn.lost, 2)
    assert conn.state is ConnectionState.CLOSED
    assert pool.take_idle() is None
    # its slot is free: both slots connect within the deadline
    both = await asyncio.gather(*(pool.acquire(pool.loop.time() + 1, False) for _ in range(2)))
    assert len(set(both)) == 2 and conn not in both


async def test_the_deadline_is_published_while_waiting_and_enforced_by_the_pool(
    pool: OriginPool,
) -> None:
    conn = await pool.acquire(pool.loop.time() + 5, False)
    waiting = asyncio.ensure_future(_get(pool, conn, "/slow", timeout=0.1))
    await eventually(lambda: conn.deadline > 0.0, what="the exchange waits with a deadline")
    assert pool.deadline_tick is not None  # the pool's check is scheduled
    with pytest.raises(UpstreamTimeout):
        await waiting
    assert conn.deadline == 0.0
    await asyncio.wait_for(conn.lost, 2)  # a timed-out connection is never reused
    assert conn.state is ConnectionState.CLOSED


async def test_a_detached_connection_is_never_handed_out_and_frees_no_slot(
    pool: OriginPool,
) -> None:
    conn = await pool.acquire(pool.loop.time() + 5, False)
    other = await pool.acquire(pool.loop.time() + 5, False)  # the second and last slot
    assert await _get(pool, conn, "/text") == b"hello"
    assert (conn.state, other.state) == (ConnectionState.IDLE, ConnectionState.ACTIVE)
    # fresh=True with both slots taken: the idle one is detached and its slot reused
    got = await pool.acquire(pool.loop.time() + 5, True)
    assert conn.state is ConnectionState.CLOSED
    await asyncio.wait_for(conn.lost, 2)
    assert got not in (conn, other) and got.state is ConnectionState.ACTIVE
    assert pool.take_idle() is None
    with pytest.raises(UpstreamTimeout):  # conn's loss did not hand out a third slot
        await pool.acquire(pool.loop.time() + 0.1, False)
