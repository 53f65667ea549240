"""The cache store interface: opaque bytes under (stage, key), a TTL, and O(1) stage flushes.

A flush never walks entries. Each stage has a generation; every entry remembers the generation
it was written in, and a lookup serves it only while that generation is current. Entries of an
old generation are dropped when met, overwritten, evicted or expired.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class CacheStorageError(Exception):
    """The store failed or did not answer in time; the cache treats it as a miss."""


class CacheStorage(ABC):
    __slots__ = ()

    @abstractmethod
    async def get(self, stage_ns: str, key: str) -> bytes | None:
        """The live entry of the current generation, or ``None``."""

    @abstractmethod
    async def set(self, stage_ns: str, key: str, value: bytes, ttl_s: float) -> None:
        """Store ``value`` in the stage's current generation for ``ttl_s`` seconds."""

    @abstractmethod
    async def flush(self, stage_ns: str) -> None:
        """Make every entry of the stage unreachable, in O(1)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections; the storage is not used afterwards."""
