"""Time, injected: the memory backends and the tests never read the wall clock themselves."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float:
        """Seconds since the Unix epoch (UTC)."""


class SystemClock:
    __slots__ = ()

    def __call__(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told: ``clock.advance(1.5)``."""

    __slots__ = ("now",)

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
