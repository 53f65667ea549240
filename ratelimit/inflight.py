"""In-flight admission: at most ``limit`` requests inside the gateway at once (AWS's 5,000
concurrent-request account limit, ``account.maxConcurrency``)."""

from __future__ import annotations

import contextlib
import multiprocessing
from typing import Protocol


class _SharedCount(Protocol):
    """A ``multiprocessing.RawValue("q")`` (which typeshed types as ``Any``)."""

    value: int


class InFlight:
    """A counter of requests in progress; ``try_acquire`` admits, ``release`` in ``finally``.

    ``shared=True`` puts the counter in shared memory guarded by a process-shared lock, so the
    workers forked after it is built share one limit. Cost of one ``try_acquire`` + ``release``
    pair (timeit, 2-core machine, uncontended, call overhead included): 0.21 us local, 0.78 us
    shared (two process-shared semaphore operations), against about 65 us of CPU per proxied
    request at 15,000 rps, so sharing costs about 1 %.

    A worker that dies while holding slots leaves them counted; the gateway restarts all
    workers (and so builds a new counter) rather than one.
    """

    __slots__ = ("_count", "_limit", "_lock", "_shared")

    def __init__(self, limit: int, *, shared: bool = False) -> None:
        if limit < 0:
            raise ValueError(f"in-flight limit must be an integer >= 0: {limit}")
        self._limit = limit
        self._shared: _SharedCount | None = None
        # Held only around the shared counter; unused (and never entered) without one.
        self._lock: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        self._count = 0
        if shared:
            ctx = multiprocessing.get_context("fork")
            self._shared = ctx.RawValue("q", 0)
            self._lock = ctx.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet released (by all workers when shared)."""
        return int(self._shared.value) if self._shared is not None else self._count

    def try_acquire(self) -> bool:
        """Admit one request unless ``limit`` are already in flight."""
        shared = self._shared
        if shared is None:
            if self._count >= self._limit:
                return False
            self._count += 1
            return True
        with self._lock:
            if shared.value >= self._limit:
                return False
            shared.value += 1
            return True

    def release(self) -> None:
        """Give back a slot taken by a successful ``try_acquire``."""
        shared = self._shared
        if shared is None:
            self._count -= 1
            return
        with self._lock:
            shared.value -= 1
