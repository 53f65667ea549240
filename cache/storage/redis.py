"""The shared cache store on Redis or Redis Cluster.

Keys, with the stage as hash tag so one stage's keys share a cluster slot:
``sluice:cache:{api:stage}:g`` holds the stage's generation (16 hex characters, no TTL) and
``sluice:cache:{api:stage}:e:<key>`` holds the generation the entry was written in followed by
the encoded response, with a PX TTL.

Store commands: a lookup is one ``MGET`` of both keys (hit or miss); a store is one
``EVALSHA`` of ``cache/lua/store.lua``; a flush is one ``SET`` of a fresh random generation.
A random generation rather than INCR: if ``allkeys-lru`` evicts the generation key, an
incremented counter could restart at a value old entries still carry; a lookup that finds no
generation is a miss, and the next store starts a new random one.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from cache.storage.base import CacheStorage, CacheStorageError

_GEN_LEN = 16
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

    __slots__ = ("_client", "_timeout_s")

    def __init__(self, client: Redis | RedisCluster, *, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float) -> RedisCacheStorage:
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
        return cls(client, timeout_s=timeout_s)

    async def get(self, stage_ns: str, key: str) -> bytes | None:
        try:
            async with asyncio.timeout(self._timeout_s):
                gen, value = await self._client.execute_command(
                    "MGET", generation_key(stage_ns), entry_key(stage_ns, key)
                )
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheStorageError(f"cache lookup failed: {exc!r}") from exc
        if gen is None or value is None or not value.startswith(gen):
            return None
        return value[_GEN_LEN:]  # type: ignore[no-any-return]

    async def set(self, stage_ns: str, key: str, value: bytes, ttl_s: int) -> None:
        if ttl_s <= 0:
            return
        keys_and_args = (
            generation_key(stage_ns),
            entry_key(stage_ns, key),
            value,
            ttl_s * 1000,
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
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._client.set(generation_key(stage_ns), _new_generation())
        except (RedisError, OSError, TimeoutError) as exc:
            raise CacheStorageError(f"cache flush failed: {exc!r}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
