"""Rate-limit stores: ``memory://`` (one process) and Redis / Redis Cluster (shared)."""

from __future__ import annotations

from ratelimit.clock import Clock, SystemClock
from ratelimit.storage.base import LimitStorage, StorageError
from ratelimit.storage.memory import MemoryStorage

__all__ = ["LimitStorage", "MemoryStorage", "StorageError", "storage_from_url"]


def storage_from_url(
    url: str, *, clock: Clock | None = None, timeout_s: float = 0.25
) -> LimitStorage:
    """``memory://``, ``redis://host:port/db``, ``rediss://...``, ``redis+cluster://host:port``."""
    if url.startswith("memory://"):
        return MemoryStorage(clock if clock is not None else SystemClock())
    if url.startswith(("redis://", "rediss://", "redis+cluster://", "rediss+cluster://")):
        # Imported here so that memory-only deployments never load redis-py.
        from ratelimit.storage.redis import RedisStorage

        return RedisStorage.from_url(url, timeout_s=timeout_s)
    raise ValueError(
        f"storage url must start with memory://, redis://, rediss:// or redis+cluster://: {url!r}"
    )
