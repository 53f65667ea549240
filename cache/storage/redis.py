"""The shared cache store on Redis or Redis Cluster.

Keys, with the stage as hash tag so one stage's keys share a cluster slot:
``sluice:cache:{api:stage}:g`` holds the stage's generation (16 hex characters, no TTL) and
``sluice:cache:{api:stage}:e:<key>`` holds the generation the entry was written in followed by
the encoded response, with a PX TTL.

An entry's value is the generation, then the epoch milliseconds it expires at (8 bytes, big
endian, by the writer's clock), then the encoded response.

Store commands: a lookup reads both keys in an ``MGET`` shared with the other lookups of its
batch (one ``MGET`` a batch, one per stage on a cluster); a store is one
``EVALSHA`` of ``cache/lua/store.lua``; a flush is one ``SET`` of a fresh random generation.

With ``near_bytes`` (not on a cluster) the process also keeps the entries it read in a near
cache in its own memory, served with no store command at all. Redis keeps it coherent: an
:class:`~cache.storage.tracking.InvalidationListener` hears of every write, expiry, eviction
and flush under ``sluice:cache:`` and drops the entry or the stage; while the listener is down
the near cache is emptied and not used. A reply is put in the near cache only if no
invalidation arrived while its ``MGET`` was out, so an invalidation that overtakes the reply
cannot leave a stale entry behind.
A random generation rather than INCR: if ``allkeys-lru`` evicts the generation key, an
incremented counter could restart at a value old entries still carry; a lookup that finds no
generation is a miss, and the next store starts a new random one.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import struct
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from cache.storage.base import CacheStorage, CacheStorageError
from cache.storage.memory import MemoryCacheStorage
from cache.storage.tracking import InvalidationListener

_PREFIX = "sluice:cache:"
_GEN_LEN = 16
_EXPIRY = struct.Struct(">Q")
_HEAD = _GEN_LEN + _EXPIRY.size
_MAX_BATCH = 256  # lookups in one MGET at most
# stage, key, the caller's future, the invalidation count when it was queued
_Lookup = tuple[str, str, "asyncio.Future[bytes | None]", int]
_STORE_LUA = resources.files("cache").joinpath("lua/store.lua").read_text()
_STORE_SHA = hashlib.sha1(_STORE_LUA.encode()).hexdigest()


def generation_key(stage_ns: str) -> str:
    return f"sluice:cache:{{{stage_ns}}}:g"


def entry_key(stage_ns: str, key: str) -> str:
    return f"sluice:cache:{{{stage_ns}}}:e:{key}"


def _new_generation() -> str:
    return secrets.token_hex(_GEN_LEN // 2)


class RedisCacheStorage(CacheStorage):
    """Each call is bounded by ``timeout_s`` and raises only :class:`CacheStorageError`."""

    __slots__ = ("_client", "_clock", "_cluster", "_listener", "_near", "_pending", "_sending",
                 "_seq", "_tasks", "_timeout_s", "near_hits")

    def __init__(self, client: Redis | RedisCluster, *, timeout_s: float,
                 clock: Callable[[], float] = time.time, near_bytes: int = 0) -> None:
        self._client = client
        self._cluster = isinstance(client, RedisCluster)
        self._timeout_s = timeout_s
        self._clock = clock
        self._pending: list[_Lookup] = []
        self._sending = 0  # batches at Redis now
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0  # invalidations (and listener resets) so far
        self.near_hits = 0
        self._near: MemoryCacheStorage | None = None
        self._listener: InvalidationListener | None = None
        if near_bytes > 0 and isinstance(client, Redis):
            # Not on a cluster: BCAST tracking is per node, and one listener per master is
            # more than this near cache is worth there yet.
            self._near = MemoryCacheStorage(max_bytes=near_bytes, clock=clock)
            self._listener = InvalidationListener(client, _PREFIX, on_keys=self._invalidated,
                                                  on_reset=self._reset_near)

    @property
    def near_ready(self) -> bool:
        """The near cache is in use: its invalidation listener is connected."""
        return self._listener is not None and self._listener.ready

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, clock: Callable[[], float] = time.time,
                 near_bytes: int = 0) -> RedisCacheStorage:
        """``redis://``, ``rediss://``, ``unix://`` or ``redis+cluster://host:port``."""
        # No retries: a cache miss is cheaper than a request waiting on a reconnect loop.
        options: dict[str, Any] = {
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            "retry": Retry(NoBackoff(), 0),
        }
        client: Redis | RedisCluster
        if url.startswith("redis+cluster://"):
            client = RedisCluster.from_url(
                "redis://" + url.removeprefix("redis+cluster://"), **options
            )
        else:
            client = Redis.from_url(url, **options)
        return cls(client, timeout_s=timeout_s, clock=clock, near_bytes=near_bytes)

    async def get(self, stage_ns: str, key: str) -> bytes | None:
        # Lookups are batched like the limiter's decisions: while one MGET is at Redis, the
        # lookups that arrive wait and then go together as one MGET (one per stage on a
        # cluster: a stage is one slot). A round trip per hit held bench cached-redis at
        # 6.1k rps against 9.9k uncached; see bench/README.md for the figure after.
        near = self._near
        if near is not None:
            assert self._listener is not None
            if self._listener.ready:
                value = near.peek(stage_ns, key)
                if value is not None:
                    self.near_hits += 1
                    return value
            else:
                self._listener.start()  # at the first lookup: it needs the running loop
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes | None] = loop.create_future()
        pending = self._pending
        pending.append((stage_ns, key, fut, self._seq))
        if len(pending) == 1 and not self._sending:
            loop.call_soon(self._flush)
        elif len(pending) >= _MAX_BATCH:
            self._flush()
        return await fut

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Lookup]) -> None:
        self._sending += 1
        try:
            try:
                async with asyncio.timeout(self._timeout_s):
                    replies = await self._mget(batch)
            except (RedisError, OSError, TimeoutError) as exc:
                for _, _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(CacheStorageError(f"cache lookup failed: {exc!r}"))
                return
            except BaseException as exc:  # cancelled at shutdown: no lookup may wait forever
                for _, _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(CacheStorageError(f"cache lookup aborted: {exc!r}"))
                raise
            now_ms = self._clock() * 1000.0
            near = self._near if self.near_ready else None
            seq = self._seq
            for (stage_ns, key, fut, queued_at), (gen, value) in zip(batch, replies,
                                                                     strict=True):
                if fut.done():
                    continue
                if (gen is None or value is None or len(value) < _HEAD
                        or not value.startswith(gen)):
                    fut.set_result(None)
                    continue
                (expires_ms,) = _EXPIRY.unpack_from(value, _GEN_LEN)
                if expires_ms <= now_ms:
                    fut.set_result(None)
                    continue
                body = value[_HEAD:]
                if near is not None and queued_at == seq:
                    near.put(stage_ns, key, body, (expires_ms - now_ms) / 1000.0)
                fut.set_result(body)
        finally:
            self._sending -= 1
            if self._pending and not self._sending:
                self._flush()

    async def _mget(self, batch: list[_Lookup]) -> list[tuple[Any, Any]]:
        """(generation, entry) for each lookup of the batch, in order."""
        if not self._cluster:
            keys: list[str] = []
            for stage_ns, key, _, _ in batch:
                keys += (generation_key(stage_ns), entry_key(stage_ns, key))
            flat = await self._client.execute_command("MGET", *keys)
            return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        by_stage: dict[str, list[int]] = {}
        for i, (stage_ns, _, _, _) in enumerate(batch):
            by_stage.setdefault(stage_ns, []).append(i)
        replies: list[tuple[Any, Any]] = [(None, None)] * len(batch)

        async def one_stage(stage_ns: str, positions: list[int]) -> None:
            keys = [generation_key(stage_ns)]
            keys += (entry_key(stage_ns, batch[i][1]) for i in positions)
            flat = await self._client.execute_command("MGET", *keys)
            for j, i in enumerate(positions):
                replies[i] = (flat[0], flat[j + 1])

        await asyncio.gather(*(one_stage(ns, pos) for ns, pos in by_stage.items()))
        return replies

    async def set(self, stage_ns: str, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        ttl_ms = max(1, int(ttl_s * 1000))
        # this process reads its own write at once; others when the invalidation reaches them
        self._forget(stage_ns, key)
        keys_and_args = (
            generation_key(stage_ns),
            entry_key(stage_ns, key),
            _EXPIRY.pack(int(self._clock() * 1000) + ttl_ms) + value,
            ttl_ms,
            _new_generation(),
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                try:
                    await self._client.evalsha(_STORE_SHA, 2, *keys_and_args)
                except NoScriptError:
                    # First store on this node since it started: EVAL also caches the script.
                    await self._client.eval(_STORE_LUA, 2, *keys_and_args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheStorageError(f"cache store failed: {exc!r}") from exc

    async def flush(self, stage_ns: str) -> None:
        self._forget(stage_ns, None)
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._client.set(generation_key(stage_ns), _new_generation())
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheStorageError(f"cache flush failed: {exc!r}") from exc

    # -- the near cache ----------------------------------------------------------------------

    def _forget(self, stage_ns: str, key: str | None) -> None:
        """Drop an entry (``key``) or a whole stage from the near cache."""
        self._seq += 1
        near = self._near
        if near is not None:
            if key is None:
                near.drop_stage(stage_ns)
            else:
                near.discard(stage_ns, key)

    def _invalidated(self, names: list[bytes] | None) -> None:
        if names is None:  # FLUSHALL / FLUSHDB
            self._reset_near()
            return
        for raw in names:
            name = raw.decode("utf-8", "replace")
            close = name.find("}", len(_PREFIX))
            if not name.startswith(_PREFIX + "{") or close < 0:
                continue
            stage_ns, rest = name[len(_PREFIX) + 1 : close], name[close + 1 :]
            if rest == ":g":
                self._forget(stage_ns, None)
            elif rest.startswith(":e:"):
                self._forget(stage_ns, rest[3:])

    def _reset_near(self) -> None:
        self._seq += 1
        if self._near is not None:
            self._near.clear()

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.aclose()
        if self._pending:
            self._flush()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
