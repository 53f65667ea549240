"""The embedded cache store: one process, bounded by bytes, least recently used out first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from cache.storage.base import CacheStorage

# Per-entry bookkeeping counted against max_bytes besides the key and value characters:
# tracemalloc measured 218 bytes of tuples, float and dict slot per entry (10,000 entries,
# CPython 3.11), plus about 80 bytes of str and bytes object headers.
_OVERHEAD = 300


class MemoryCacheStorage(CacheStorage):
    """LRU over total bytes, TTL read from the injected clock, a generation per stage."""

    __slots__ = ("_clock", "_entries", "_generations", "bytes_used", "max_bytes")

    def __init__(self, *, max_bytes: int, clock: Callable[[], float]) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self._clock = clock
        self._generations: dict[str, int] = {}
        # (stage_ns, key) -> (generation, expires_at, value); order is least recent first
        self._entries: OrderedDict[tuple[str, str], tuple[int, float, bytes]] = OrderedDict()

    async def get(self, stage_ns: str, key: str) -> bytes | None:
        return self.peek(stage_ns, key)

    async def set(self, stage_ns: str, key: str, value: bytes, ttl_s: float) -> None:
        self.put(stage_ns, key, value, ttl_s)

    def put(self, stage_ns: str, key: str, value: bytes, ttl_s: float) -> None:
        """:meth:`set` without the coroutine (the Redis store's near cache fills from a
        reply callback)."""
        slot = (stage_ns, key)
        size = _size(slot, value)
        old = self._entries.pop(slot, None)
        if old is not None:
            self.bytes_used -= _size(slot, old[2])
        if size > self.max_bytes or ttl_s <= 0:
            return
        while self.bytes_used + size > self.max_bytes:
            evicted, (_, _, evicted_value) = self._entries.popitem(last=False)
            self.bytes_used -= _size(evicted, evicted_value)
        generation = self._generations.get(stage_ns, 0)
        self._entries[slot] = (generation, self._clock() + ttl_s, value)
        self.bytes_used += size

    async def flush(self, stage_ns: str) -> None:
        self.drop_stage(stage_ns)

    def drop_stage(self, stage_ns: str) -> None:
        self._generations[stage_ns] = self._generations.get(stage_ns, 0) + 1

    def peek(self, stage_ns: str, key: str) -> bytes | None:
        """:meth:`get` without the coroutine."""
        slot = (stage_ns, key)
        entry = self._entries.get(slot)
        if entry is None:
            return None
        generation, expires_at, value = entry
        if generation != self._generations.get(stage_ns, 0) or self._clock() >= expires_at:
            self._drop(slot, value)
            return None
        self._entries.move_to_end(slot)
        return value

    def discard(self, stage_ns: str, key: str) -> None:
        slot = (stage_ns, key)
        entry = self._entries.get(slot)
        if entry is not None:
            self._drop(slot, entry[2])

    def clear(self) -> None:
        self._entries.clear()
        self.bytes_used = 0

    async def aclose(self) -> None:
        self.clear()

    def _drop(self, slot: tuple[str, str], value: bytes) -> None:
        del self._entries[slot]
        self.bytes_used -= _size(slot, value)


def _size(slot: tuple[str, str], value: bytes) -> int:
    return len(slot[0]) + len(slot[1]) + len(value) + _OVERHEAD
