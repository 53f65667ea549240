"""Cache stores: ``memory://`` (one process) and Redis (shared), behind one interface."""

from __future__ import annotations

import time
from collections.abc import Callable

from cache.storage.base import CacheStorage, CacheStorageError
from cache.storage.memory import MemoryCacheStorage

__all__ = [
    "CacheStorage",
    "CacheStorageError",
    "MemoryCacheStorage",
    "RedisCacheStorage",
    "cache_storage_from_url",
]


def __getattr__(name: str) -> object:
    # redis-py is imported only when a Redis store is asked for: on memory:// it would add
    # ~7 MB to every worker's memory for nothing (bench idle: P6).
    if name == "RedisCacheStorage":
        from cache.storage.redis import RedisCacheStorage

        return RedisCacheStorage
    raise AttributeError(name)

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://")


def cache_storage_from_url(
    url: str,
    *,
    clock: Callable[[], float] = time.time,
    max_bytes: int = 256 * 2**20,
    timeout_s: float = 0.25,
    near_bytes: int = 0,
) -> CacheStorage:
    """The store named by ``storage.url``; ``max_bytes`` bounds ``memory://`` only,
    ``near_bytes`` the near cache of a (non-cluster) Redis store (0: none)."""
    if url == "memory://":
        return MemoryCacheStorage(max_bytes=max_bytes, clock=clock)
    if url.startswith(_REDIS_SCHEMES):
        from cache.storage.redis import RedisCacheStorage

        return RedisCacheStorage.from_url(url, timeout_s=timeout_s, clock=clock,
                                          near_bytes=near_bytes)
    raise ValueError(
        f"storage url {url!r} must be memory://, redis://host:port/db, rediss://..., "
        "unix://path or redis+cluster://host:port"
    )
