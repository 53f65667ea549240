"""The embedded store: one process, state in dicts, time from an injected clock.

It mirrors ``ratelimit/lua/decide.lua`` step for step (same refill formula, same key names,
same expiries), so one test class holds both backends to the same behaviour. It is also the
per-process fallback the limiter uses while Redis is unreachable.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Sequence

from ratelimit.buckets import EXPIRY_MARGIN_MS, MAX_TTL_MS, Bucket
from ratelimit.clock import Clock, SystemClock
from ratelimit.quota import (
    PERIODS,
    Quota,
    QuotaPeriod,
    day_number,
    owner,
    period_bounds,
    quota_expires_at,
    quota_key,
    usage_expires_at,
    usage_key,
    usage_key_for_date,
)
from ratelimit.storage.base import (
    ADMITTED,
    NO_QUOTA,
    QUOTA_REFUSED,
    LimitStorage,
    Outcome,
    Request,
)

# Expired keys are dropped lazily when read, and all of them once a minute so that keys nobody
# asks for again (one-off API keys, past periods) do not pile up.
_SWEEP_EVERY_S = 60.0


class MemoryStorage(LimitStorage):
    """Single-process store; ``decide_sync`` is the whole decision, without awaiting."""

    __slots__ = ("_buckets", "_clock", "_counters", "_next_sweep", "_periods")

    def __init__(self, clock: Clock | None = None) -> None:
        # the system clock is time.time itself: no Python-level __call__ per decision
        self._clock: Clock = time.time if clock is None or type(clock) is SystemClock else clock
        # key -> [tokens, updated at (ms), expires at (ms) or None]
        self._buckets: dict[str, list[float | None]] = {}
        # key -> [count, expires at (epoch s)]
        self._counters: dict[str, list[int]] = {}
        self._periods: tuple[int, dict[QuotaPeriod, tuple[int, int]]] = (-1, {})
        self._next_sweep = 0.0

    def _bounds(self, period: QuotaPeriod, day: int) -> tuple[int, int]:
        cached_day, table = self._periods
        if cached_day != day:
            table = {p: period_bounds(p, day) for p in PERIODS}
            self._periods = (day, table)
        return table[period]

    def _count(self, key: str, now_s: float) -> int:
        entry = self._counters.get(key)
        if entry is None:
            return 0
        if entry[1] <= now_s:
            del self._counters[key]
            return 0
        return entry[0]

    def _sweep(self, now_s: float) -> None:
        now_ms = now_s * 1000.0
        for key in [k for k, v in self._buckets.items() if v[2] is not None and v[2] <= now_ms]:
            del self._buckets[key]
        for key in [k for k, v in self._counters.items() if v[1] <= now_s]:
            del self._counters[key]
        self._next_sweep = now_s + _SWEEP_EVERY_S

    def decide_sync(self, batch: Sequence[Request]) -> list[Outcome]:
        now_s = self._clock()
        if now_s >= self._next_sweep:
            self._sweep(now_s)
        now_ms = now_s * 1000.0
        out: list[Outcome] = []
        for buckets, quota in batch:
            out.append(self._decide_one(buckets, quota, now_s, now_ms))
        return out

    def decide_one(self, buckets: Sequence[Bucket], quota: Quota | None) -> Outcome:
        """One request's decision: ``decide_sync`` without building a batch for it."""
        now_s = self._clock()
        if now_s >= self._next_sweep:
            self._sweep(now_s)
        return self._decide_one(buckets, quota, now_s, now_s * 1000.0)

    def _decide_one(
        self, buckets: Sequence[Bucket], quota: Quota | None, now_s: float, now_ms: float
    ) -> Outcome:
        # This runs on every request of a single-process gateway, so ``refill`` and ``ttl_ms``
        # (ratelimit.buckets) are inlined, same formulas: Limiter.submit on one account
        # bucket took 2.4 us, now 1.6 us (timeit, with the clock read as time.time directly).
        states = self._buckets
        levels: list[float] = []
        for i, bucket in enumerate(buckets, 1):
            key = bucket.key
            state = states.get(key)
            if state is None:
                tokens = float(bucket.burst)
            else:
                tokens, ts, expires = state  # type: ignore[assignment]
                if expires is not None and expires <= now_ms:
                    del states[key]
                    tokens = float(bucket.burst)
                else:
                    elapsed = now_ms - ts  # type: ignore[operator]
                    if elapsed > 0:
                        tokens += elapsed * bucket.rate / 1000.0
                    if tokens > bucket.burst:
                        tokens = float(bucket.burst)
            if tokens < 1.0:
                return (i, NO_QUOTA)
            levels.append(tokens)
        remaining = NO_QUOTA
        if quota is not None:
            day = day_number(now_s)
            start, end = self._bounds(quota.period, day)
            who = owner(quota.plan_id, quota.key_id)
            qkey = quota_key(who, quota.period, start)
            used = self._count(qkey, now_s)
            if used >= quota.limit:
                return (QUOTA_REFUSED, 0)
            self._counters[qkey] = [used + 1, quota_expires_at(end)]
            ukey = usage_key(who, day)
            self._counters[ukey] = [self._count(ukey, now_s) + 1, usage_expires_at(day)]
            remaining = quota.limit - used - 1
        for bucket, tokens in zip(buckets, levels):  # noqa: B905 (same length: built above)
            left = tokens - 1.0
            rate = bucket.rate
            states[bucket.key] = [left, now_ms, None if rate <= 0 else now_ms + min(
                math.ceil((bucket.burst - left) * 1000.0 / rate) + EXPIRY_MARGIN_MS, MAX_TTL_MS)]
        return (ADMITTED, remaining)

    async def decide(self, batch: Sequence[Request]) -> list[Outcome]:
        return self.decide_sync(batch)

    async def quota_used(self, quota: Quota) -> int:
        now_s = self._clock()
        start, _ = self._bounds(quota.period, day_number(now_s))
        key = quota_key(owner(quota.plan_id, quota.key_id), quota.period, start)
        return self._count(key, now_s)

    async def daily_usage(
        self, plan_id: str, key_id: str, days: Sequence[datetime.date]
    ) -> list[int]:
        now_s = self._clock()
        who = owner(plan_id, key_id)
        return [self._count(usage_key_for_date(who, d), now_s) for d in days]
