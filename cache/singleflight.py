"""Single-flight: concurrent callers for one key share one fetch (nginx ``proxy_cache_lock``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    """Per process. The fetch runs as its own task, so a caller that is cancelled (a client
    gone away) does not take the shared result away from the callers still waiting."""

    __slots__ = ("_flights", "joined")

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}
        self.joined = 0  # callers served by another caller's fetch, for metrics

    async def do(
        self,
        key: Hashable,
        fetch: Callable[[], Awaitable[T]],
        *,
        timeout: float,  # bounds the joiners only, never the one fetching
    ) -> T:
        """The result of the one in-flight ``fetch()`` for ``key``, starting it if none is.

        The caller that starts it waits as long as the fetch takes (the fetch bounds itself);
        the others wait at most ``timeout`` seconds, then get ``TimeoutError``. An exception
        from the fetch is raised to every caller.
        """
        flight: asyncio.Future[T] | None = self._flights.get(key)
        if flight is not None:
            self.joined += 1
            async with asyncio.timeout(timeout):
                return await asyncio.shield(flight)
        flight = asyncio.ensure_future(fetch())
        self._flights[key] = flight
        flight.add_done_callback(lambda done: self._land(key, done))
        return await asyncio.shield(flight)

    def _land(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        if self._flights.get(key) is done:
            del self._flights[key]
        # Mark the outcome retrieved: if every caller was cancelled, nobody else reads it, and
        # asyncio would log "exception was never retrieved".
        if not done.cancelled():
            done.exception()
