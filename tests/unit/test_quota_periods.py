"""Quota periods: calendar DAY, WEEK (from Monday) and MONTH in UTC, keyed by their first day.

The pure period maths is checked against datetime for every day from 1970 to 2200 (the Lua copy
is checked against the same function on a real Redis in tests/integration/test_limiter.py); the
boundaries are then crossed with a ManualClock on the memory store.
"""

from __future__ import annotations

import datetime

import pytest

from ratelimit import Limiter, ManualClock, MemoryStorage, Quota
from ratelimit.quota import day_number, period_bounds, quota_key

EPOCH = datetime.date(1970, 1, 1)
UTC = datetime.UTC


def ts(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return datetime.datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()


def test_period_bounds_match_the_calendar() -> None:
    last = (datetime.date(2200, 1, 1) - EPOCH).days
    for day in range(last):
        date = EPOCH + datetime.timedelta(days=day)
        monday = date - datetime.timedelta(days=date.weekday())
        first = date.replace(day=1)
        nxt = datetime.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        assert period_bounds("DAY", day) == (day, day + 1)
        assert period_bounds("WEEK", day) == ((monday - EPOCH).days, (monday - EPOCH).days + 7)
        assert period_bounds("MONTH", day) == ((first - EPOCH).days, (nxt - EPOCH).days)


def test_day_number_is_utc() -> None:
    assert day_number(ts(2026, 11, 22, 23, 59, 59)) == (datetime.date(2026, 11, 22) - EPOCH).days
    assert day_number(ts(2026, 11, 23)) == (datetime.date(2026, 11, 23) - EPOCH).days


def test_quota_key_names_the_first_day() -> None:
    day = (datetime.date(2026, 11, 19) - EPOCH).days  # a Thursday
    assert quota_key("p:k", "WEEK", period_bounds("WEEK", day)[0]) == "q:p:k:WEEK:2026-11-16"
    assert quota_key("p:k", "MONTH", period_bounds("MONTH", day)[0]) == "q:p:k:MONTH:2026-11-01"


def test_quota_validation() -> None:
    with pytest.raises(ValueError, match="DAY, WEEK, MONTH"):
        Quota("p", "k", 1, "YEAR")
    with pytest.raises(ValueError, match="limit"):
        Quota("p", "k", -1, "DAY")


async def use(limiter: Limiter, quota: Quota, n: int) -> int:
    return sum([(await limiter.decide([], quota)).allowed for _ in range(n)])


@pytest.mark.parametrize(
    ("period", "before", "same_period", "next_period"),
    [
        # a UTC midnight
        ("DAY", (2026, 3, 31, 0, 0, 0), (2026, 3, 31, 23, 59, 59), (2026, 4, 1, 0, 0, 0)),
        # Sunday -> Monday; Saturday -> Sunday stays in the week
        ("WEEK", (2026, 11, 16, 0, 0, 0), (2026, 11, 22, 23, 59, 59), (2026, 11, 23, 0, 0, 0)),
        # a leap-year month end
        ("MONTH", (2028, 2, 1, 0, 0, 0), (2028, 2, 29, 23, 59, 59), (2028, 3, 1, 0, 0, 0)),
        # a year end
        ("MONTH", (2026, 12, 1, 0, 0, 0), (2026, 12, 31, 23, 59, 59), (2027, 1, 1, 0, 0, 0)),
    ],
)
async def test_quota_resets_exactly_at_the_period_boundary(
    period: str,
    before: tuple[int, ...],
    same_period: tuple[int, ...],
    next_period: tuple[int, ...],
) -> None:
    clock = ManualClock(ts(*before))
    limiter = Limiter(MemoryStorage(clock))
    q = Quota("plan", "key", 3, period)
    assert await use(limiter, q, 2) == 2
    clock.now = ts(*same_period)
    assert await use(limiter, q, 5) == 1
    assert (await limiter.decide([], q)).level == "quota"
    assert await limiter.quota_used(q) == 3
    clock.now = ts(*next_period)
    assert await limiter.quota_used(q) == 0
    assert await use(limiter, q, 5) == 3


async def test_week_starts_on_monday_not_sunday() -> None:
    clock = ManualClock(ts(2026, 11, 21, 12, 0, 0))  # Saturday
    limiter = Limiter(MemoryStorage(clock))
    q = Quota("plan", "key", 1, "WEEK")
    assert await use(limiter, q, 1) == 1
    clock.now = ts(2026, 11, 22, 0, 0, 0)  # Sunday: same week
    assert await use(limiter, q, 1) == 0


async def test_daily_usage_per_utc_day_kept_100_days() -> None:
    clock = ManualClock(ts(2026, 1, 30, 23, 0, 0))
    limiter = Limiter(MemoryStorage(clock))
    q = Quota("plan", "key", 1000, "MONTH")
    assert await use(limiter, q, 3) == 3
    clock.advance(3600)  # next UTC day, same month
    assert await use(limiter, q, 2) == 2
    days = [datetime.date(2026, 1, d) for d in (29, 30, 31)]
    assert await limiter.daily_usage("plan", "key", days) == [0, 3, 2]
    assert await limiter.quota_used(q) == 5
    clock.now = ts(2026, 5, 9, 0, 0, 0)  # 99 days after Jan 30 (the usage is still there)
    assert await limiter.daily_usage("plan", "key", days) == [0, 3, 2]
    clock.now = ts(2026, 5, 11, 0, 0, 0)  # 101 days after Jan 30
    assert await limiter.daily_usage("plan", "key", days) == [0, 0, 2]
    clock.now = ts(2026, 5, 12, 0, 0, 0)
    assert await limiter.daily_usage("plan", "key", days) == [0, 0, 0]


async def test_refused_requests_are_not_in_daily_usage() -> None:
    clock = ManualClock(ts(2026, 6, 1, 12, 0, 0))
    limiter = Limiter(MemoryStorage(clock))
    q = Quota("plan", "key", 2, "DAY")
    assert await use(limiter, q, 5) == 2
    assert await limiter.daily_usage("plan", "key", [datetime.date(2026, 6, 1)]) == [2]
