"""The response cache the gateway calls: lookups, stores and flushes that never fail a request."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cache.response import CachedResponse
from cache.singleflight import SingleFlight
from cache.storage.base import CacheStorage, CacheStorageError

T = TypeVar("T")

# After a store error, lookups and stores skip the store for this long. A black-holed Redis
# otherwise adds the whole store timeout (250 ms by default) to every cacheable request.
RETRY_AFTER_S = 1.0
# Decoded entries remembered by the identity of their stored bytes: a near-cache or memory
# hit returns the very same bytes object each time, and decoding it was ~4% of a hit's CPU
# (bench cached-redis profile). Cleared when full; a miss here only costs a decode. Held
# bytes may outlive their store's eviction, hence the bound in bytes as well as entries.
_DECODED_MAX = 4096
_DECODED_MAX_BYTES = 16 * 2**20


class ResponseCache:
    """Caches responses per stage (``stage_ns`` such as ``"petstore:prod"``) and key.

    Store failures are misses or skipped stores: they increment :attr:`errors` and are not
    raised. After one, the store is left alone for ``RETRY_AFTER_S`` (calls counted in
    :attr:`bypassed`). Undecodable entries count as errors and are misses.
    """

    __slots__ = ("_clock", "_decoded", "_decoded_bytes", "_flights", "_retry_at", "bypassed",
                 "errors", "storage")

    def __init__(self, storage: CacheStorage, *, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self._clock = clock
        self._flights = SingleFlight()
        self._retry_at = 0.0
        # id(stored bytes) -> (those bytes, decoded): holding the bytes keeps the id unique
        self._decoded: dict[int, tuple[bytes, CachedResponse]] = {}
        self._decoded_bytes = 0
        self.errors = 0
        self.bypassed = 0

    @property
    def joined(self) -> int:
        """Callers of :meth:`fetch_once` that shared another caller's fetch."""
        return self._flights.joined

    async def lookup(self, stage_ns: str, key: str) -> CachedResponse | None:
        if self._skipping():
            return None
        try:
            data = await self.storage.get(stage_ns, key)
        except CacheStorageError:
            self._failed()
            return None
        if data is None:
            return None
        known = self._decoded.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        try:
            decoded = CachedResponse.decode(data)
        except ValueError:
            self.errors += 1
            return None
        if (len(self._decoded) >= _DECODED_MAX
                or self._decoded_bytes + len(data) > _DECODED_MAX_BYTES):
            self._decoded.clear()
            self._decoded_bytes = 0
        self._decoded[id(data)] = (data, decoded)
        self._decoded_bytes += len(data)
        return decoded

    async def store(self, stage_ns: str, key: str, resp: CachedResponse, ttl_s: int) -> None:
        if self._skipping():
            return
        try:
            await self.storage.set(stage_ns, key, resp.encode(), ttl_s)
        except CacheStorageError:
            self._failed()

    async def flush(self, stage_ns: str) -> None:
        """Drop every entry of the stage in O(1); raises ``CacheStorageError`` when the store
        fails, because the admin API must answer that the flush did not happen."""
        await self.storage.flush(stage_ns)

    async def fetch_once(
        self,
        stage_ns: str,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        timeout: float,  # bounds the joiners only, never the one fetching
    ) -> T:
        """Single-flight per process: concurrent callers with one ``(stage_ns, key)`` share
        one ``fetch()``. Callers that join wait at most ``timeout`` s (``TimeoutError``); an
        exception from ``fetch`` is raised to all of them."""
        return await self._flights.do((stage_ns, key), fetch, timeout=timeout)

    async def aclose(self) -> None:
        await self.storage.aclose()

    def _skipping(self) -> bool:
        if self._retry_at and self._clock() < self._retry_at:
            self.bypassed += 1
            return True
        return False

    def _failed(self) -> None:
        self.errors += 1
        self._retry_at = self._clock() + RETRY_AFTER_S
