"""The stores a ``Registry`` keeps its keys and plans in: ``memory://`` (one process) and Redis /
Redis Cluster (shared by workers and instances)."""

from __future__ import annotations

from typing import Any

from ratelimit.storage.registry.base import Listener, Mutate, RegistryStore
from ratelimit.storage.registry.memory import MemoryRegistryStore

__all__ = ["Listener", "MemoryRegistryStore", "Mutate", "RegistryStore", "registry_store_from_url"]


def registry_store_from_url(url: str, **kwargs: Any) -> RegistryStore:
    """``memory://`` (one process) or a ``redis``/``rediss``/``+cluster`` URL (shared)."""
    if url.startswith("memory://"):
        return MemoryRegistryStore()
    if url.startswith(("redis://", "rediss://", "redis+cluster://", "rediss+cluster://")):
        # Imported here so that memory-only deployments never load redis-py.
        from ratelimit.storage.registry.redis import RedisRegistryStore

        return RedisRegistryStore.from_url(url, **kwargs)
    raise ValueError(f"registry store url must be memory:// or redis[s][+cluster]://: {url!r}")
