"""Usage-plan quotas: calendar periods in UTC (DAY, WEEK from Monday, MONTH) and the keys of
their counters, plus the per-UTC-day usage counters that GetUsage reads.

The Redis script does the same period maths from ``TIME``; tests hold the two to each other.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal, TypeGuard

QuotaPeriod = Literal["DAY", "WEEK", "MONTH"]
PERIODS: tuple[QuotaPeriod, ...] = ("DAY", "WEEK", "MONTH")
# Daily usage counters outlive the 90 days GetUsage is usually asked about.
USAGE_KEEP_DAYS = 100
_EPOCH = datetime.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Quota:
    """A usage plan's quota for one API key. ``offset`` is accepted but not applied."""

    plan_id: str
    key_id: str
    limit: int
    period: QuotaPeriod
    offset: int = 0

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"quota period must be one of {', '.join(PERIODS)}: {self.period!r}")
        if self.limit < 0:
            raise ValueError(f"quota limit must be an integer >= 0: {self.limit}")


def is_period(value: str) -> TypeGuard[QuotaPeriod]:
    return value in PERIODS


def _esc(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A") if ("%" in part or ":" in part) else part


def owner(plan_id: str, key_id: str) -> str:
    """The ``plan:key`` part shared by a key's quota and usage counters."""
    return f"{_esc(plan_id)}:{_esc(key_id)}"


def day_number(now_s: float) -> int:
    """Days since 1970-01-01 (UTC)."""
    return int(now_s // 86400)


def period_bounds(period: QuotaPeriod, day: int) -> tuple[int, int]:
    """First day of the period holding ``day`` and first day of the next one (day numbers)."""
    if period == "DAY":
        return day, day + 1
    if period == "WEEK":
        start = day - (day + 3) % 7  # 1970-01-01 was a Thursday
        return start, start + 7
    date = _EPOCH + datetime.timedelta(days=day)
    first = date.replace(day=1)
    nxt = (first + datetime.timedelta(days=32)).replace(day=1)
    return (first - _EPOCH).days, (nxt - _EPOCH).days


def day_iso(day: int) -> str:
    return (_EPOCH + datetime.timedelta(days=day)).isoformat()


def quota_key(owner_: str, period: str, start_day: int) -> str:
    """Counter of one period, named by its first day: ``q:plan:key:WEEK:2026-11-16``."""
    return f"q:{owner_}:{period}:{day_iso(start_day)}"


def usage_key(owner_: str, day: int) -> str:
    return f"u:{owner_}:{day_iso(day)}"


def usage_key_for_date(owner_: str, date: datetime.date) -> str:
    return f"u:{owner_}:{date.isoformat()}"


def quota_expires_at(end_day: int) -> int:
    """Epoch seconds at which a period's counter may go: one day after the period ends."""
    return (end_day + 1) * 86400


def usage_expires_at(day: int) -> int:
    return (day + 1 + USAGE_KEEP_DAYS) * 86400
