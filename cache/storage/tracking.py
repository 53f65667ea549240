"""Redis invalidation messages for every key under a prefix (client-side caching, BCAST mode).

One dedicated connection, in RESP2, runs ``CLIENT TRACKING ON REDIRECT <its own id> BCAST
PREFIX <prefix>`` and subscribes to ``__redis__:invalidate``: Redis then publishes the name of
every key under the prefix that anyone writes, deletes, expires or evicts, and ``None`` when a
whole database is flushed. Nothing is tracked per key on the server, so the near cache may hold
any number of entries.

A near cache is only as good as this connection. While it is down, :attr:`ready` is false and
the owner must neither serve from nor fill its near cache; ``on_reset`` runs each time the
connection is (re)established, before :attr:`ready` turns true, because messages sent while it
was down are lost. A silent peer is found by a PING every ``ping_every_s``: two intervals
without any reply and the connection is dropped and made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["InvalidationListener"]

log = logging.getLogger("sluice.cache")

_CHANNEL = "__redis__:invalidate"


class _Connection(Protocol):
    """What the listener uses of the redis-py connection it makes itself (one outside the
    client's pool: it is subscribed for its whole life)."""

    async def connect(self) -> None: ...
    async def send_command(self, *args: object) -> None: ...
    async def read_response(
        self, *, timeout: float | None = ..., disconnect_on_error: bool = ...
    ) -> object: ...
    async def disconnect(self) -> None: ...


class InvalidationListener:
    """Calls ``on_keys(names)`` for each invalidation message (``None``: everything)."""

    __slots__ = ("_client", "_closing", "_conn", "_on_keys", "_on_reset", "_ping_every_s",
                 "_prefix", "_reconnect_s", "_task", "messages", "ready")

    def __init__(self, client: Redis, prefix: str, *,
                 on_keys: Callable[[list[bytes] | None], None], on_reset: Callable[[], None],
                 ping_every_s: float = 1.0, reconnect_s: float = 0.5) -> None:
        self._client = client
        self._prefix = prefix
        self._on_keys = on_keys
        self._on_reset = on_reset
        self._ping_every_s = ping_every_s
        self._reconnect_s = reconnect_s
        self._conn: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.ready = False
        self.messages = 0  # invalidation messages received

    def start(self) -> None:
        """Start listening in the background (needs a running loop); idempotent."""
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        self._closing = True
        self.ready = False
        task, self._task = self._task, None
        # Closing the socket ends a pending read whatever redis-py does with a cancellation
        # (seen: a cancelled read_response kept waiting); the task then sees _closing.
        await self._disconnect()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task], timeout=self._ping_every_s * 2)

    async def _run(self) -> None:
        reported = False
        while not self._closing:
            try:
                await self._connect()
                self._on_reset()  # whatever was published while we were away is lost
                self.ready = True
                if reported:
                    log.info("cache invalidation listener reconnected: near cache back on")
                reported = False
                await self._listen()
            except (RedisError, OSError, TimeoutError, _Silent) as exc:
                # not when aclose() closed the socket under the read; once per outage
                if not self._closing and (self.ready or not reported):
                    log.warning("cache invalidation listener lost (%s): near cache off until it"
                                " reconnects", exc)
                    reported = True
            finally:
                self.ready = False
                self._on_reset()
                await self._disconnect()
            if not self._closing:
                await asyncio.sleep(self._reconnect_s)

    async def _connect(self) -> None:
        pool = self._client.connection_pool
        # RESP2: push messages then arrive as ordinary pub/sub replies on this connection
        options = dict(pool.connection_kwargs, protocol=2)
        options.pop("maint_notifications_config", None)  # a RESP3 feature
        options.pop("maint_notifications_pool_handler", None)
        conn: _Connection = pool.connection_class(**options)
        self._conn = conn
        await conn.connect()
        await conn.send_command("CLIENT", "ID")
        client_id = await conn.read_response()
        await conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST",
                                "PREFIX", self._prefix)
        await _expect(conn, b"OK")
        await conn.send_command("SUBSCRIBE", _CHANNEL)
        await _expect(conn, [b"subscribe", _CHANNEL.encode(), 1])

    async def _listen(self) -> None:
        conn = self._conn
        assert conn is not None  # _run listens only after _connect made it
        pinged = False
        while not self._closing:
            try:
                # asyncio.timeout, not read_response(timeout=...): redis-py's own timeout can
                # turn a cancellation into a TimeoutError, and aclose() then never ends
                async with asyncio.timeout(self._ping_every_s):
                    reply = await conn.read_response(timeout=math.inf,
                                                     disconnect_on_error=False)
            except TimeoutError:
                reply = None
            if reply is None:  # nothing for a whole interval
                if pinged:
                    raise _Silent(f"no reply to PING within {self._ping_every_s:g} s")
                await conn.send_command("PING")
                pinged = True
                continue
            pinged = False
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                self.messages += 1
                payload = reply[2]
                self._on_keys(list(payload) if isinstance(payload, list) else None)

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect()


class _Silent(Exception):
    """The listener's connection stopped answering."""


async def _expect(conn: _Connection, wanted: object) -> None:
    got = await conn.read_response()
    if got != wanted:
        raise RedisError(f"unexpected reply while setting up invalidations: {got!r}")
