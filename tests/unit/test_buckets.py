"""Token-bucket maths and bucket keys, on the pure functions and on MemoryStorage with a
ManualClock (the Redis script runs the same cases in tests/integration/test_limiter.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ratelimit import (
    Bucket,
    Limiter,
    ManualClock,
    MemoryStorage,
    account_bucket,
    plan_bucket,
    stage_bucket,
    storage_from_url,
)
from ratelimit.buckets import refill, ttl_ms


def test_refill_is_continuous_and_capped() -> None:
    assert refill(0.0, 0.0, 500.0, 4.0, 10) == 2.0
    assert refill(0.0, 0.0, 10_000.0, 0.1, 5) == pytest.approx(1.0)
    assert refill(3.0, 0.0, 1e9, 4.0, 10) == 10.0
    assert refill(3.0, 1000.0, 0.0, 4.0, 10) == 3.0  # a clock that went back adds nothing
    assert refill(0.0, 0.0, 1e12, 0.0, 10) == 0.0


def test_ttl_is_time_to_refill_plus_margin() -> None:
    assert ttl_ms(9.0, 2.0, 10) == 1500.0
    assert ttl_ms(0.0, 0.1, 5) == 51_000.0
    assert ttl_ms(0.0, 0.0, 5) is None
    assert ttl_ms(0.0, 1e-12, 5) == 315_360_000_000.0  # capped at 10 years


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limiter(clock: ManualClock) -> Limiter:
    return Limiter(MemoryStorage(clock))


async def take(limiter: Limiter, b: Bucket, n: int) -> int:
    return sum([(await limiter.decide([b], None)).allowed for _ in range(n)])


async def test_starts_full(limiter: Limiter) -> None:
    assert await take(limiter, account_bucket(1, 7), 10) == 7


async def test_refill_over_time(limiter: Limiter, clock: ManualClock) -> None:
    b = account_bucket(10, 20)
    assert await take(limiter, b, 25) == 20
    clock.advance(0.375)  # 3.75 tokens (binary fractions keep the sums exact)
    assert await take(limiter, b, 10) == 3
    clock.advance(0.125)  # 0.75 left + 1.25
    assert await take(limiter, b, 10) == 2


async def test_fractional_rate(limiter: Limiter, clock: ManualClock) -> None:
    b = plan_bucket("p", "k", 0.1, 1)
    assert await take(limiter, b, 2) == 1
    clock.advance(9.9)
    assert await take(limiter, b, 1) == 0
    clock.advance(0.1)
    assert await take(limiter, b, 2) == 1


async def test_cap_at_burst(limiter: Limiter, clock: ManualClock) -> None:
    b = account_bucket(100, 5)
    assert await take(limiter, b, 5) == 5
    clock.advance(3600)
    assert await take(limiter, b, 50) == 5


async def test_rate_zero(limiter: Limiter, clock: ManualClock) -> None:
    assert await take(limiter, account_bucket(0, 0), 3) == 0
    b = stage_bucket("a", "s", "/", "GET", 0, 2)
    assert await take(limiter, b, 3) == 2
    clock.advance(10 * 365 * 86400)
    assert await take(limiter, b, 3) == 0


async def test_expired_state_is_a_full_bucket(limiter: Limiter, clock: ManualClock) -> None:
    b = account_bucket(2, 4)
    assert await take(limiter, b, 4) == 4
    clock.advance(3.0)  # full at 2.0 s, key gone at 3.0 s: the same 4 tokens either way
    assert await take(limiter, b, 10) == 4


async def test_per_decision_clock(clock: ManualClock) -> None:
    storage = MemoryStorage(clock)
    b = account_bucket(1, 1)
    out = storage.decide_sync([([b], None), ([b], None)])
    assert [code for code, _ in out] == [0, 1]


def test_bucket_keys_are_distinct_per_level_and_method() -> None:
    keys = {
        account_bucket(1, 1).key,
        stage_bucket("api", "prod", "/pets", "GET", 1, 1).key,
        stage_bucket("api", "prod", "/pets", "POST", 1, 1).key,
        stage_bucket("api", "dev", "/pets", "GET", 1, 1).key,
        plan_bucket("p", "k", 1, 1).key,
        plan_bucket("p", "k2", 1, 1).key,
        plan_bucket(
            "p", "k", 1, 1, api_id="api", stage="prod", resource_path="/pets", method="GET"
        ).key,
        plan_bucket("p:k", "x", 1, 1).key,
        plan_bucket("p", "k:x", 1, 1).key,
    }
    assert len(keys) == 9
    assert plan_bucket("p", "k", 1, 1).level == "usage_plan"
    assert stage_bucket("a", "s", "/", "GET", 1, 1).level == "stage"
    assert account_bucket(1, 1).level == "account"


def test_bucket_validation() -> None:
    with pytest.raises(ValueError, match="rate"):
        account_bucket(-1, 1)
    with pytest.raises(ValueError, match="rate"):
        account_bucket(float("nan"), 1)
    with pytest.raises(ValueError, match="burst"):
        account_bucket(1, -1)
    with pytest.raises(ValueError, match="level"):
        Bucket("x", 1.0, 1, "global")
    with pytest.raises(ValueError, match="per-method"):
        plan_bucket("p", "k", 1, 1, method="GET")


def test_storage_from_url() -> None:
    assert isinstance(storage_from_url("memory://"), MemoryStorage)
    with pytest.raises(ValueError, match="memory://"):
        storage_from_url("memcached://localhost")
    with pytest.raises(ValueError, match="on_error"):
        Limiter(MemoryStorage(), on_error="maybe")


def test_package_boundaries() -> None:
    """ratelimit never imports proxy; redis only under ratelimit/storage (and only for redis://)."""
    code = (
        "import sys, ratelimit; from ratelimit import registry_store_from_url, storage_from_url;"
        " storage_from_url('memory://'); registry_store_from_url('memory://');"
        " print(sorted(m for m in sys.modules if m.split('.')[0] in ('proxy', 'redis')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    root = Path(__file__).resolve().parents[2] / "ratelimit"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "import proxy" not in text and "from proxy" not in text, path
        if path.relative_to(root).parts[0] != "storage":  # under ratelimit/storage
            assert "import redis" not in text and "from redis" not in text, path
