"""Reserved concurrency: at most N invocations of a function at once on this machine.

``Slots`` counts one function's invocations in this process. ``SharedConcurrency`` is built
by the parent before it forks the workers (as ``ratelimit.InFlight(shared=True)`` is): one
counter per function in shared memory behind one process-shared lock, so the limit holds for
the machine, not per worker. Functions a reload adds that the parent did not know count per
process (``SharedConcurrency.slots`` says so by returning a local ``Slots``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable
from typing import Any

__all__ = ["SharedConcurrency", "Slots"]


class Slots:
    """A counter of invocations in progress: ``try_acquire`` admits, ``release`` gives back."""

    __slots__ = ("_count", "_index", "_lock", "_shared", "limit")

    def __init__(self, limit: int | None, *, shared: Any = None, lock: Any = None,
                 index: int = 0) -> None:
        self.limit = limit  # None: unreserved
        self._count = 0
        self._shared = shared
        self._lock = lock
        self._index = index

    @property
    def shared(self) -> bool:
        return self._shared is not None

    @property
    def local(self) -> int:
        """Invocations admitted by this process and not yet released."""
        return self._count

    @property
    def in_use(self) -> int:
        """Invocations admitted and not yet released (by every worker when shared)."""
        return int(self._shared[self._index]) if self._shared is not None else self._count

    def try_acquire(self) -> bool:
        limit = self.limit
        shared = self._shared
        if shared is None:
            if limit is not None and self._count >= limit:
                return False
            self._count += 1
            return True
        with self._lock:
            if limit is not None and shared[self._index] >= limit:
                return False
            shared[self._index] += 1
        self._count += 1
        return True

    def release(self) -> None:
        self._count -= 1
        shared = self._shared
        if shared is not None:
            with self._lock:
                shared[self._index] -= 1


class SharedConcurrency:
    """Machine-wide counters for ``names``, to build before forking the workers.

    Cost of a shared ``try_acquire`` + ``release`` pair: two process-shared semaphore
    operations, ~0.8 us (the same primitive as ``InFlight(shared=True)``, timeit), against
    ~200 us of CPU per invocation."""

    __slots__ = ("_counts", "_index", "_lock")

    def __init__(self, names: Iterable[str]) -> None:
        ctx = multiprocessing.get_context("fork")
        self._index = {name: i for i, name in enumerate(sorted(set(names)))}
        self._counts = ctx.RawArray("q", max(1, len(self._index)))
        self._lock = ctx.Lock()

    def slots(self, name: str, limit: int | None) -> Slots:
        index = self._index.get(name)
        if index is None:
            return Slots(limit)
        return Slots(limit, shared=self._counts, lock=self._lock, index=index)
