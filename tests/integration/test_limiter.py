"""The limiter over its stores: one test class runs on memory:// (ManualClock), on a real
redis-server and on a local Redis Cluster (the store matrix of tests/conftest.py). Redis time cannot be moved, so where time must pass on Redis the test ages the
stored bucket state instead (its ``ts`` field), and rates are tiny so that elapsed wall time
cannot change an outcome.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from ratelimit import (
    Bucket,
    Limiter,
    ManualClock,
    Quota,
    account_bucket,
    plan_bucket,
    stage_bucket,
    storage_from_url,
)
from ratelimit.quota import period_bounds
from ratelimit.storage.redis import PREFIX
from tests.support.stores import STORE_BACKENDS, Store, store_params

TINY = 1e-9  # tokens/s: nothing refills during a test


@dataclass
class Backend:
    kind: str
    limiter: Limiter
    clock: ManualClock | None
    redis: Redis | RedisCluster | None

    async def elapse(self, seconds: float, *buckets: Bucket) -> None:
        """Let ``seconds`` pass for ``buckets``: move the clock, or age the stored state."""
        if self.clock is not None:
            self.clock.advance(seconds)
            return
        assert self.redis is not None
        for b in buckets:  # a bucket is stored as "<tokens> <last update ms>"
            value = await self.redis.get(PREFIX + b.key)
            if value is not None:
                tokens, ts = value.split(" ")
                await self.redis.set(PREFIX + b.key, f"{tokens} {float(ts) - seconds * 1000!r}",
                                     keepttl=True)

    async def today(self) -> datetime.date:
        if self.clock is not None:
            now = self.clock()
        else:
            assert self.redis is not None
            sec, _ = await self.redis.time()
            now = float(sec)
        return datetime.datetime.fromtimestamp(now, datetime.UTC).date()


@pytest.fixture
async def backend(store: Store) -> AsyncIterator[Backend]:
    if store.backend == "memory":
        clock = ManualClock()
        limiter = Limiter(storage_from_url(store.url, clock=clock))
        yield Backend("memory", limiter, clock, None)
        await limiter.aclose()
        return
    limiter = Limiter(storage_from_url(store.url), timeout_s=2.0)
    inspect: Redis | RedisCluster = (
        Redis.from_url(store.url, decode_responses=True)
        if store.backend == "redis"
        else RedisCluster.from_url(store.url.replace("redis+cluster://", "redis://"),
                                   decode_responses=True)
    )
    yield Backend(store.backend, limiter, None, inspect)
    await inspect.aclose()
    await limiter.aclose()


async def admitted(limiter: Limiter, buckets: list[Bucket], quota: Quota | None, n: int) -> int:
    return sum([(await limiter.decide(buckets, quota)).allowed for _ in range(n)])


@pytest.mark.parametrize("store", store_params(*STORE_BACKENDS), indirect=True)
class TestLimiter:
    async def test_starts_full_and_refuses_past_burst(self, backend: Backend) -> None:
        b = account_bucket(TINY, 5)
        assert await admitted(backend.limiter, [b], None, 8) == 5
        d = await backend.limiter.decide([b], None)
        assert (d.allowed, d.level, d.quota_remaining) == (False, "account", None)
        assert not d.degraded

    async def test_refills_at_a_fractional_rate_and_caps_at_burst(self, backend: Backend) -> None:
        b = stage_bucket("api", "prod", "/pets", "GET", 0.1, 3)
        assert await admitted(backend.limiter, [b], None, 5) == 3
        await backend.elapse(20.0, b)  # 0.1/s x 20 s = 2 tokens
        assert await admitted(backend.limiter, [b], None, 5) == 2
        await backend.elapse(1000.0, b)  # would be 100 tokens: capped at 3
        assert await admitted(backend.limiter, [b], None, 5) == 3

    async def test_rate_zero_never_refills_and_burst_zero_blocks(self, backend: Backend) -> None:
        never = account_bucket(0, 2)
        assert await admitted(backend.limiter, [never], None, 4) == 2
        await backend.elapse(10_000_000.0, never)
        assert await admitted(backend.limiter, [never], None, 4) == 0
        blocked = plan_bucket("p", "k", 0, 0)
        d = await backend.limiter.decide([blocked], None)
        assert (d.allowed, d.level) == (False, "usage_plan")

    async def test_refusal_consumes_nothing_from_other_levels(self, backend: Backend) -> None:
        plan = plan_bucket("p", "k", TINY, 5)
        stage = stage_bucket("api", "prod", "/", "GET", TINY, 5)
        account = account_bucket(TINY, 2)
        levels = [plan, stage, account]
        assert await admitted(backend.limiter, levels, None, 4) == 2
        assert (await backend.limiter.decide(levels, None)).level == "account"
        # 2 of 5 were taken from the plan and stage buckets, none by the 3 refusals
        assert await admitted(backend.limiter, [plan], None, 10) == 3
        assert await admitted(backend.limiter, [stage], None, 10) == 3

    async def test_level_is_the_first_refusing_bucket(self, backend: Backend) -> None:
        empty_plan, empty_account = plan_bucket("p", "k", 0, 0), account_bucket(0, 0)
        stage = stage_bucket("api", "prod", "/", "GET", TINY, 5)
        d = await backend.limiter.decide([empty_plan, stage, empty_account], None)
        assert d.level == "usage_plan"
        d = await backend.limiter.decide([stage, empty_account], None)
        assert d.level == "account"
        assert await admitted(backend.limiter, [stage], None, 10) == 5

    async def test_exact_admit_count_under_concurrency(self, backend: Backend) -> None:
        b = account_bucket(TINY, 50)
        decisions = await asyncio.gather(*(backend.limiter.decide([b], None) for _ in range(200)))
        assert sum(d.allowed for d in decisions) == 50
        assert {d.level for d in decisions if not d.allowed} == {"account"}

    async def test_quota_counts_admitted_requests_and_refuses_past_limit(
        self, backend: Backend
    ) -> None:
        q = Quota("plan", "key", 3, "MONTH")
        b = plan_bucket("plan", "key", TINY, 100)
        rem = [(await backend.limiter.decide([b], q)).quota_remaining for _ in range(3)]
        assert rem == [2, 1, 0]
        d = await backend.limiter.decide([b], q)
        assert (d.allowed, d.level, d.quota_remaining) == (False, "quota", 0)
        assert await backend.limiter.quota_used(q) == 3
        # the quota refusal took no token: 100 - 3 are left
        assert await admitted(backend.limiter, [b], None, 200) == 97

    async def test_quota_counted_only_when_throttles_pass(self, backend: Backend) -> None:
        q = Quota("plan", "key", 10, "DAY")
        b = plan_bucket("plan", "key", TINY, 3)
        assert await admitted(backend.limiter, [b], q, 6) == 3
        assert await backend.limiter.quota_used(q) == 3
        today = await backend.today()
        assert await backend.limiter.daily_usage("plan", "key", [today]) == [3]

    async def test_quota_concurrent_exact(self, backend: Backend) -> None:
        q = Quota("plan", "key", 40, "WEEK")
        b = account_bucket(TINY, 1000)
        decisions = await asyncio.gather(*(backend.limiter.decide([b], q) for _ in range(100)))
        assert sum(d.allowed for d in decisions) == 40
        remaining = [d.quota_remaining for d in decisions if d.allowed]
        assert sorted(r for r in remaining if r is not None) == list(range(40))
        assert await backend.limiter.quota_used(q) == 40

    async def test_daily_usage_per_key_and_day(self, backend: Backend) -> None:
        today = await backend.today()
        for key, n in (("a", 4), ("b", 1)):
            assert await admitted(backend.limiter, [], Quota("plan", key, 100, "DAY"), n) == n
        days = [today - datetime.timedelta(days=1), today, today + datetime.timedelta(days=1)]
        assert await backend.limiter.daily_usage("plan", "a", days) == [0, 4, 0]
        assert await backend.limiter.daily_usage("plan", "b", [today]) == [1]
        assert await backend.limiter.daily_usage("other", "a", [today]) == [0]
        assert await backend.limiter.daily_usage("plan", "a", []) == []

    async def test_ids_with_separators_do_not_collide(self, backend: Backend) -> None:
        one, two = plan_bucket("a:b", "c", TINY, 1), plan_bucket("a", "b:c", TINY, 1)
        assert await admitted(backend.limiter, [one], None, 2) == 1
        assert await admitted(backend.limiter, [two], None, 2) == 1
        q1, q2 = Quota("a:b", "c", 1, "DAY"), Quota("a", "b:c", 1, "DAY")
        assert await admitted(backend.limiter, [], q1, 2) == 1
        assert await admitted(backend.limiter, [], q2, 2) == 1

    async def test_no_buckets_no_quota_is_allowed(self, backend: Backend) -> None:
        d = await backend.limiter.decide([], None)
        assert d.allowed and d.level is None and not d.degraded


# --- Redis specifics: key layout, expiry, script handling, batching ---------------------------


@pytest.fixture
async def redis_limiter(redis_url: str) -> AsyncIterator[tuple[Limiter, Redis]]:
    limiter = Limiter(storage_from_url(redis_url), timeout_s=2.0)
    inspect = Redis.from_url(redis_url, decode_responses=True)
    yield limiter, inspect
    await inspect.aclose()
    await limiter.aclose()


async def test_bucket_keys_expire_when_full_again(redis_limiter: tuple[Limiter, Redis]) -> None:
    limiter, r = redis_limiter
    b = account_bucket(2.0, 10)
    await limiter.decide([b], None)
    # 1 token short at 2 tokens/s: full in 500 ms, kept 1000 ms longer
    assert 1000 < await r.pttl(PREFIX + b.key) <= 1500
    never = plan_bucket("p", "k", 0, 3)
    await limiter.decide([never], None)
    assert await r.pttl(PREFIX + never.key) == -1  # never refills, so never expires


async def test_refused_request_writes_nothing(redis_limiter: tuple[Limiter, Redis]) -> None:
    limiter, r = redis_limiter
    d = await limiter.decide([account_bucket(0, 0)], Quota("p", "k", 5, "DAY"))
    assert not d.allowed
    assert await r.keys("*") == []


@pytest.mark.parametrize("period", ["DAY", "WEEK", "MONTH"])
async def test_quota_key_names_the_period_start_and_expires_after_it(
    redis_limiter: tuple[Limiter, Redis], period: str
) -> None:
    limiter, r = redis_limiter
    await limiter.decide([], Quota("plan", "key", 9, period))
    sec, _ = await r.time()
    day = sec // 86400
    start, end = period_bounds(period, day)
    epoch = datetime.date(1970, 1, 1)
    start_date = epoch + datetime.timedelta(days=start)
    assert await r.keys(f"{PREFIX}q:*") == [f"{PREFIX}q:plan:key:{period}:{start_date}"]
    if period == "WEEK":
        assert start_date.weekday() == 0
    if period == "MONTH":
        assert start_date.day == 1
    ttl = await r.ttl(f"{PREFIX}q:plan:key:{period}:{start_date}")
    assert abs((sec + ttl) - (end + 1) * 86400) <= 2
    usage = f"{PREFIX}u:plan:key:{epoch + datetime.timedelta(days=day)}"
    assert await r.get(usage) == "1"
    assert abs((sec + await r.ttl(usage)) - (day + 101) * 86400) <= 2


async def test_lua_calendar_agrees_with_python(redis_url: str) -> None:
    """The period maths of decide.lua, run on Redis, against datetime for 1970..2200."""
    from importlib import resources

    source = resources.files("ratelimit").joinpath("lua/decide.lua").read_text()
    calendar = source.split("-- END CALENDAR")[0]
    probe = (
        calendar
        + """
local out = {}
for day = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local ds, de = bounds('DAY', day)
  local ws, we = bounds('WEEK', day)
  local ms, me = bounds('MONTH', day)
  out[#out + 1] = table.concat({iso(day), ws, we, ms, me, ds, de}, ' ')
end
return out
"""
    )
    r = Redis.from_url(redis_url, decode_responses=True)
    try:
        last = (datetime.date(2200, 1, 1) - datetime.date(1970, 1, 1)).days
        rows = await r.eval(probe, 0, 0, last, 1)
    finally:
        await r.aclose()
    epoch = datetime.date(1970, 1, 1)
    assert len(rows) == last + 1
    for day, row in enumerate(rows):
        iso, *nums = row.split()
        assert iso == (epoch + datetime.timedelta(days=day)).isoformat()
        expected = [*period_bounds("WEEK", day), *period_bounds("MONTH", day), day, day + 1]
        assert [int(x) for x in nums] == expected, iso


async def test_reloads_script_after_script_flush(redis_limiter: tuple[Limiter, Redis]) -> None:
    limiter, r = redis_limiter
    b = account_bucket(TINY, 3)
    assert (await limiter.decide([b], None)).allowed
    await r.script_flush()
    assert await admitted(limiter, [b], None, 4) == 2
    assert limiter.fallback_count == 0


def _calls(stats: str, command: str) -> int:
    m = re.search(rf"cmdstat_{command}:calls=(\d+)", stats)
    return int(m.group(1)) if m else 0


async def test_one_tick_of_decisions_is_one_script_call(
    redis_server: object, redis_limiter: tuple[Limiter, Redis]
) -> None:
    limiter, r = redis_limiter
    plan = [plan_bucket("p", f"k{i % 8}", TINY, 1000) for i in range(64)]
    stage, account = stage_bucket("a", "s", "/", "GET", TINY, 10_000), account_bucket(TINY, 10_000)
    await limiter.decide([account], None)  # loads the script
    await r.config_resetstat()
    rounds = 10
    for _ in range(rounds):
        out = await asyncio.gather(
            *(
                limiter.decide([plan[i], stage, account], Quota("p", "k", 10**6, "DAY"))
                for i in range(64)
            )
        )
        assert all(d.allowed for d in out)
    stats = redis_server.info_commandstats()  # type: ignore[attr-defined]
    evalsha = _calls(stats, "evalsha")
    assert evalsha == rounds  # 64 decisions a call
    assert evalsha / (64 * rounds) < 0.25 / 10
    # inside the script: every bucket and counter read by one MGET, and the 8 plan + stage +
    # account buckets and the quota and usage counters each written by one SET, per call
    assert _calls(stats, "mget") == rounds
    assert _calls(stats, "set") == 12 * rounds
    assert await r.get(f"{PREFIX}q:p:k:DAY:{await _today(r)}") == str(64 * rounds)


async def _today(r: Redis) -> str:
    sec, _ = await r.time()
    return str(datetime.date(1970, 1, 1) + datetime.timedelta(days=sec // 86400))


async def test_batches_are_capped(redis_limiter: tuple[Limiter, Redis]) -> None:
    limiter, _ = redis_limiter
    b = account_bucket(TINY, 300)
    out = await asyncio.gather(*(limiter.decide([b], None) for _ in range(600)))
    assert sum(d.allowed for d in out) == 300


# --- Redis Cluster -------------------------------------------------------------------------


@pytest.mark.redis_cluster
async def test_cluster_decisions_keep_every_key_in_one_slot(redis_cluster_url: str) -> None:
    from redis.asyncio.cluster import RedisCluster
    from redis.crc import key_slot

    limiter = Limiter(storage_from_url(redis_cluster_url), timeout_s=2.0)
    inspect = RedisCluster.from_url(redis_cluster_url.replace("redis+cluster", "redis"))
    try:
        account = account_bucket(TINY, 30)
        buckets = [
            [
                plan_bucket("p", f"k{i}", TINY, 5),
                stage_bucket("a", "s", f"/r{i}", "GET", TINY, 9),
                account,
            ]
            for i in range(10)
        ]
        out = await asyncio.gather(
            *(
                limiter.decide(buckets[i % 10], Quota("p", f"k{i % 10}", 100, "MONTH"))
                for i in range(50)
            )
        )
        assert sum(d.allowed for d in out) == 30  # the account bucket
        assert limiter.fallback_count == 0
        keys = await inspect.keys("*", target_nodes=RedisCluster.ALL_NODES)
        assert len(keys) >= 21  # 10 plan + 10 stage + account + quota/usage counters
        assert {key_slot(bytes(k)) for k in keys} == {key_slot(PREFIX.encode())}
        assert await limiter.quota_used(Quota("p", "k3", 100, "MONTH")) == 3
    finally:
        await inspect.aclose()
        await limiter.aclose()
