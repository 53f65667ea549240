"""Token buckets: the value type, the storage keys of each level, and the refill maths.

A bucket holds at most ``burst`` tokens, gains ``rate`` tokens per second continuously, starts
full, and each admitted request takes one token. ``rate=0, burst=0`` blocks everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# The throttle levels a bucket belongs to (the x-amzn-ErrorType and metrics name them).
BucketLevel = Literal["usage_plan", "stage", "account"]
_LEVELS: frozenset[BucketLevel] = frozenset({"usage_plan", "stage", "account"})

# A full bucket is indistinguishable from a missing one, so a key may vanish once the bucket
# could have refilled; the margin keeps it through a request that is still in flight.
EXPIRY_MARGIN_MS = 1000.0
# Buckets that never refill (rate 0) keep their key; anything slower than this is capped so the
# TTL stays an integer Redis accepts (10 years).
MAX_TTL_MS = 315_360_000_000.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """One token bucket of one request: ``key`` names its state in the store."""

    key: str
    rate: float
    burst: int
    level: BucketLevel

    def __post_init__(self) -> None:
        if not (self.rate >= 0 and math.isfinite(self.rate)):
            raise ValueError(f"bucket {self.key!r}: rate must be a finite number >= 0")
        if self.burst < 0:
            raise ValueError(f"bucket {self.key!r}: burst must be an integer >= 0")
        if self.level not in _LEVELS:
            raise ValueError(f"bucket {self.key!r}: level must be one of {sorted(_LEVELS)}")


def _esc(part: str) -> str:
    # Ids are joined with ":"; escaping keeps ("a:b", "c") and ("a", "b:c") apart.
    return part.replace("%", "%25").replace(":", "%3A") if ("%" in part or ":" in part) else part


def account_bucket(rate: float, burst: int) -> Bucket:
    """The one account-wide bucket (AWS: 10,000 rps, burst 5,000)."""
    return Bucket("acct", float(rate), burst, "account")


def stage_bucket(
    api_id: str, stage: str, resource_path: str, method: str, rate: float, burst: int
) -> Bucket:
    """The stage bucket of one method: AWS gives every method its own bucket."""
    key = f"st:{_esc(api_id)}:{_esc(stage)}:{_esc(method)}:{resource_path}"
    return Bucket(key, float(rate), burst, "stage")


def plan_bucket(
    plan_id: str,
    key_id: str,
    rate: float,
    burst: int,
    *,
    api_id: str | None = None,
    stage: str | None = None,
    resource_path: str | None = None,
    method: str | None = None,
) -> Bucket:
    """A usage plan's bucket for one API key, per method when a method throttle applies."""
    key = f"up:{_esc(plan_id)}:{_esc(key_id)}"
    if resource_path is not None or method is not None:
        if api_id is None or stage is None or resource_path is None or method is None:
            raise ValueError("a per-method plan bucket needs api_id, stage, resource_path, method")
        key = f"{key}:{_esc(api_id)}:{_esc(stage)}:{_esc(method)}:{resource_path}"
    return Bucket(key, float(rate), burst, "usage_plan")


def refill(tokens: float, ts_ms: float, now_ms: float, rate: float, burst: int) -> float:
    """Tokens at ``now_ms`` of a bucket that held ``tokens`` at ``ts_ms``."""
    elapsed = now_ms - ts_ms
    if elapsed > 0:
        tokens += elapsed * rate / 1000.0
    return min(tokens, float(burst))


def ttl_ms(tokens: float, rate: float, burst: int) -> float | None:
    """How long to keep a bucket's state: until it is full again, plus a margin."""
    if rate <= 0:
        return None
    return min(math.ceil((burst - tokens) * 1000.0 / rate) + EXPIRY_MARGIN_MS, MAX_TTL_MS)
