"""What every load driver takes and returns: a request deck, load settings, a run result."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9),
)


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request of a deck; ``path`` excludes the target's prefix (the stage for Sluice)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """How hard and how long to drive. ``rate`` set means open loop at that many requests/s."""

    connections: int = 64
    duration_s: float = 10.0
    warmup_s: float = 1.0
    rate: float | None = None
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise ValueError(f"connections must be >= 1, got {self.connections}")
        if self.duration_s <= 0 or self.warmup_s < 0:
            raise ValueError("duration must be > 0 and warmup >= 0 seconds")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be > 0 requests/s, got {self.rate}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout_s}")


@dataclass(slots=True)
class RunResult:
    """One measured run. ``requests`` counts responses received in the measured phase;
    ``warmup_requests`` those of the warmup phase (the upstream saw both)."""

    driver: str
    requests: int
    errors: int
    elapsed_s: float
    latency_ms: dict[str, float]
    status: dict[str, int]
    warmup_requests: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles of ``samples_ms`` (sorted in place)."""
    if not samples_ms:
        return {name: 0.0 for name, _ in PERCENTILES}
    samples_ms.sort()
    n = len(samples_ms)
    return {name: round(samples_ms[max(0, math.ceil(p / 100 * n) - 1)], 3)
            for name, p in PERCENTILES}


class Progress:
    """One updating status line on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str, duration_s: float, *, enabled: bool | None = None) -> None:
        self.label = label
        self.duration_s = duration_s
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._start = time.monotonic()

    def restart(self, label: str, duration_s: float) -> None:
        self.label, self.duration_s, self._start = label, duration_s, time.monotonic()

    def update(self, requests: int | None = None, errors: int = 0) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._start
        line = f"\r  {self.label}: {min(elapsed, self.duration_s):5.1f}/{self.duration_s:.1f}s"
        if requests is not None:
            line += f"  {requests} req  {requests / max(elapsed, 1e-9):8.0f} rps  {errors} err"
        sys.stderr.write(line + "\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def merge_counts(into: dict[str, int], counts: Iterable[tuple[str, int]]) -> None:
    for key, n in counts:
        into[key] = into.get(key, 0) + n
