"""The cache over its stores: one test class for memory, Redis and Redis Cluster, then what
only one backend can show (the injected clock, LRU by bytes, Redis TTLs, command counts,
a dead or stalled Redis)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from cache import CachedResponse, CacheStorageError, ResponseCache, cache_storage_from_url
from cache.response_cache import RETRY_AFTER_S
from cache.storage import MemoryCacheStorage
from cache.storage.redis import RedisCacheStorage, entry_key, generation_key
from ratelimit.clock import ManualClock
from tests.support.redis_server import RedisServer
from tests.support.stores import Store, store_params
from tests.support.waiting import eventually

NS = "petstore:prod"
NEAR_BYTES = 1 << 20
RESP = CachedResponse(
    200,
    (("Content-Type", "application/octet-stream"), ("X-Name", "caf\u00e9")),
    bytes(range(256)) * 4,
)


@dataclass
class Backend:
    name: str
    cache: ResponseCache
    clock: ManualClock


@pytest.fixture
async def backend(store: Store) -> AsyncIterator[Backend]:
    clock = ManualClock()
    near = NEAR_BYTES if store.variant == "near" else 0
    cache = ResponseCache(cache_storage_from_url(store.url, clock=clock, timeout_s=2.0,
                                                 near_bytes=near), clock=clock)
    yield Backend(store.backend, cache, clock)
    await cache.aclose()


# "redis-near": Redis with a near cache in front of it
@pytest.mark.parametrize(
    "store", store_params("memory", "redis", "redis-near", "redis_cluster"), indirect=True
)
class TestResponseCache:
    async def test_miss_then_hit_returns_the_same_response(self, backend: Backend) -> None:
        cache = backend.cache
        assert await cache.lookup(NS, "GET:k") is None
        await cache.store(NS, "GET:k", RESP, 60)
        assert await cache.lookup(NS, "GET:k") == RESP
        assert cache.errors == 0

    async def test_store_replaces_the_entry(self, backend: Backend) -> None:
        cache = backend.cache
        await cache.store(NS, "k", RESP, 60)
        newer = CachedResponse(201, (), b"newer")
        await cache.store(NS, "k", newer, 60)
        assert await cache.lookup(NS, "k") == newer

    async def test_keys_and_stages_do_not_share_entries(self, backend: Backend) -> None:
        cache = backend.cache
        await cache.store(NS, "k", RESP, 60)
        assert await cache.lookup(NS, "k2") is None
        assert await cache.lookup("petstore:beta", "k") is None
        assert await cache.lookup("other:prod", "k") is None

    async def test_largest_cacheable_body_round_trips(self, backend: Backend) -> None:
        big = CachedResponse(200, (), b"\x00\xff" * (1_048_576 // 2))
        await backend.cache.store(NS, "big", big, 60)
        assert await backend.cache.lookup(NS, "big") == big

    async def test_flush_hides_every_entry_of_the_stage(self, backend: Backend) -> None:
        cache = backend.cache
        for i in range(20):
            await cache.store(NS, f"k{i}", RESP, 60)
        await cache.store("petstore:beta", "k0", RESP, 60)
        await cache.flush(NS)
        assert [await cache.lookup(NS, f"k{i}") for i in range(20)] == [None] * 20
        assert await cache.lookup("petstore:beta", "k0") == RESP  # another stage keeps its own

    async def test_entries_stored_after_a_flush_are_served(self, backend: Backend) -> None:
        cache = backend.cache
        await cache.store(NS, "k", RESP, 60)
        await cache.flush(NS)
        await cache.flush(NS)
        fresh = CachedResponse(200, (), b"fresh")
        await cache.store(NS, "k", fresh, 60)
        assert await cache.lookup(NS, "k") == fresh

    async def test_undecodable_entry_is_a_counted_miss(self, backend: Backend) -> None:
        await backend.cache.storage.set(NS, "k", b"\x07not an entry", 60)
        assert await backend.cache.lookup(NS, "k") is None
        assert backend.cache.errors == 1


# --- memory only: the injected clock and the byte bound ---------------------------------------


async def test_memory_entry_expires_at_its_ttl() -> None:
    clock = ManualClock()
    cache = ResponseCache(MemoryCacheStorage(max_bytes=2**20, clock=clock), clock=clock)
    await cache.store(NS, "k", RESP, 300)
    clock.advance(299.9)
    assert await cache.lookup(NS, "k") == RESP
    clock.advance(0.1)
    assert await cache.lookup(NS, "k") is None


async def test_memory_evicts_least_recently_used_by_bytes() -> None:
    clock = ManualClock()
    storage = MemoryCacheStorage(max_bytes=3 * 1500, clock=clock)
    value = b"x" * 1000  # with key and bookkeeping an entry counts under 1500 bytes
    for key in ("a", "b", "c"):
        await storage.set(NS, key, value, 60)
    assert await storage.get(NS, "a") == value  # a is now the most recent
    await storage.set(NS, "d", value, 60)
    assert await storage.get(NS, "b") is None
    assert [await storage.get(NS, k) for k in ("a", "c", "d")] == [value] * 3
    assert storage.bytes_used <= storage.max_bytes
    # one big entry pushes out as many as it needs
    await storage.set(NS, "big", b"y" * 3000, 60)
    assert await storage.get(NS, "big") == b"y" * 3000
    assert storage.bytes_used <= storage.max_bytes


async def test_memory_skips_a_value_larger_than_the_bound() -> None:
    storage = MemoryCacheStorage(max_bytes=1000, clock=ManualClock())
    await storage.set(NS, "k", b"small", 60)
    await storage.set(NS, "k", b"z" * 1000, 60)
    assert await storage.get(NS, "k") is None  # the old value is not served either
    assert storage.bytes_used == 0


async def test_memory_flush_is_o1_and_frees_stale_entries_when_met() -> None:
    storage = MemoryCacheStorage(max_bytes=2**20, clock=ManualClock())
    await storage.set(NS, "k", b"v", 60)
    used = storage.bytes_used
    await storage.flush(NS)
    assert storage.bytes_used == used  # nothing walked
    assert await storage.get(NS, "k") is None
    assert storage.bytes_used == 0


# --- Redis only --------------------------------------------------------------------------------


def _commandstats(server: RedisServer) -> dict[str, int]:
    calls = {}
    for line in server.info_commandstats().splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.removeprefix("cmdstat_").partition(":")
            calls[name] = int(rest.split("calls=")[1].split(",")[0])
    return {k: v for k, v in calls.items() if not k.startswith(("config", "info"))}


def _resetstat(server: RedisServer) -> None:
    subprocess.run(
        ["redis-cli", "-p", str(server.port), "config", "resetstat"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def test_redis_hit_costs_one_command_and_miss_plus_store_two(
    redis_server: RedisServer, redis_url: str
) -> None:
    cache = ResponseCache(cache_storage_from_url(redis_url))
    try:
        await cache.store(NS, "warm", RESP, 60)  # loads the script once
        _resetstat(redis_server)
        assert await cache.lookup(NS, "k") is None
        await cache.store(NS, "k", RESP, 60)
        # two round trips; commandstats also lists the script's own GET, SET and APPEND
        assert _commandstats(redis_server) == {
            "mget": 1,
            "evalsha": 1,
            "get": 1,
            "set": 1,
            "append": 1,
        }
        _resetstat(redis_server)
        assert await cache.lookup(NS, "k") == RESP
        assert _commandstats(redis_server) == {"mget": 1}
    finally:
        await cache.aclose()


async def test_redis_concurrent_lookups_share_mgets(
    redis_server: RedisServer, redis_url: str
) -> None:
    cache = ResponseCache(cache_storage_from_url(redis_url))
    try:
        for i in range(8):
            await cache.store(NS, f"k{i}", CachedResponse(200, (), f"body{i}".encode()), 60)
        _resetstat(redis_server)
        got = await asyncio.gather(*(cache.lookup(NS, f"k{i % 10}") for i in range(64)))
        # every lookup gets its own answer (k8 and k9 were never stored)...
        assert [g.body if g else None for g in got] == [
            f"body{i % 10}".encode() if i % 10 < 8 else None for i in range(64)]
        # ...from far fewer round trips than lookups: one MGET a batch
        assert _commandstats(redis_server)["mget"] <= 2
    finally:
        await cache.aclose()


async def test_redis_flush_is_one_set_without_scan_or_keys(
    redis_server: RedisServer, redis_url: str
) -> None:
    cache = ResponseCache(cache_storage_from_url(redis_url))
    try:
        for i in range(200):
            await cache.store(NS, f"k{i}", RESP, 60)
        _resetstat(redis_server)
        await cache.flush(NS)
        assert _commandstats(redis_server) == {"set": 1}
        assert await cache.lookup(NS, "k7") is None
    finally:
        await cache.aclose()


@pytest.mark.parametrize("store", store_params("redis", "redis_cluster"), indirect=True)
async def test_redis_entry_has_a_px_ttl(store: Store) -> None:
    url = store.url
    cache = ResponseCache(cache_storage_from_url(url))
    probe: Redis | RedisCluster = (
        Redis.from_url(url)
        if store.backend == "redis"
        else RedisCluster.from_url(url.replace("redis+cluster://", "redis://"))
    )
    try:
        await cache.store(NS, "k", RESP, 300)
        pttl = await probe.pttl(entry_key(NS, "k"))
        assert 290_000 < pttl <= 300_000
        assert await probe.ttl(generation_key(NS)) == -1  # the generation never expires
    finally:
        await probe.aclose()
        await cache.aclose()


async def test_redis_lost_generation_key_is_a_miss_until_the_next_store(redis_url: str) -> None:
    """``allkeys-lru`` may evict the generation key; old entries must not come back."""
    cache = ResponseCache(cache_storage_from_url(redis_url))
    probe = Redis.from_url(redis_url)
    try:
        await cache.store(NS, "k", RESP, 60)
        await probe.delete(generation_key(NS))
        assert await cache.lookup(NS, "k") is None
        await cache.store(NS, "k2", RESP, 60)
        assert await cache.lookup(NS, "k") is None
        assert await cache.lookup(NS, "k2") == RESP
    finally:
        await probe.aclose()
        await cache.aclose()


async def test_dead_store_is_a_quick_counted_miss_and_recovers(own_redis: RedisServer) -> None:
    clock = ManualClock()
    cache = ResponseCache(cache_storage_from_url(own_redis.url, timeout_s=0.25), clock=clock)
    try:
        await cache.store(NS, "k", RESP, 60)
        own_redis.stop()
        started = time.monotonic()
        assert await cache.lookup(NS, "k") is None
        assert time.monotonic() - started < 1.0
        assert cache.errors == 1
        await cache.store(NS, "k", RESP, 60)  # within RETRY_AFTER_S: not even tried
        assert (cache.errors, cache.bypassed) == (1, 1)
        clock.advance(RETRY_AFTER_S)
        await cache.store(NS, "k", RESP, 60)  # tried, failed, swallowed
        assert cache.errors == 2
        own_redis.start()
        clock.advance(RETRY_AFTER_S)
        await cache.store(NS, "k", RESP, 60)
        assert await cache.lookup(NS, "k") == RESP
        assert cache.errors == 2
    finally:
        await cache.aclose()


async def test_stalled_store_is_bounded_by_the_timeout(own_redis: RedisServer) -> None:
    cache = ResponseCache(cache_storage_from_url(own_redis.url, timeout_s=0.2))
    probe = Redis.from_url(own_redis.url)
    try:
        await cache.store(NS, "k", RESP, 60)
        await probe.execute_command("CLIENT", "PAUSE", 3000)  # the server stops answering
        started = time.monotonic()
        assert await cache.lookup(NS, "k") is None
        assert time.monotonic() - started < 2.0
        assert cache.errors == 1
    finally:
        await probe.aclose()
        await cache.aclose()


async def test_flush_on_a_dead_store_raises_for_the_admin_api(own_redis: RedisServer) -> None:
    cache = ResponseCache(cache_storage_from_url(own_redis.url, timeout_s=0.25))
    own_redis.stop()
    try:
        with pytest.raises(CacheStorageError):
            await cache.flush(NS)
    finally:
        await cache.aclose()


async def test_cancelled_lookup_leaves_the_client_usable(redis_url: str) -> None:
    cache = ResponseCache(cache_storage_from_url(redis_url))
    try:
        await cache.store(NS, "k", RESP, 60)
        task = asyncio.ensure_future(cache.lookup(NS, "k"))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await cache.lookup(NS, "k") == RESP
    finally:
        await cache.aclose()


# ---- the near cache of the Redis store ------------------------------------------------------

def _near(url: str, clock: ManualClock | None = None) -> RedisCacheStorage:
    storage = cache_storage_from_url(url, near_bytes=NEAR_BYTES, timeout_s=2.0,
                                     **({"clock": clock} if clock is not None else {}))
    assert isinstance(storage, RedisCacheStorage)
    return storage


async def _until(condition: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    """Invalidations travel on their own connection: wait for one, 2 s at most."""
    await eventually(condition, 2.0, what)


async def _ready(storage: RedisCacheStorage) -> None:
    await storage.get(NS, "warm-up")  # starts the listener
    await _until(lambda: storage.near_ready, "the invalidation listener connected")


async def test_near_hit_sends_no_command(redis_server: RedisServer, redis_url: str) -> None:
    storage = _near(redis_url)
    try:
        await _ready(storage)
        await storage.set(NS, "k", b"v1", 60)
        async def near() -> bool:
            # from Redis, kept near unless the set's own invalidation overtook the reply
            return await storage.get(NS, "k") == b"v1" and storage.near_hits > 0
        await _until(near, "v1 served from the near cache")
        _resetstat(redis_server)
        storage.near_hits = 0
        assert [await storage.get(NS, "k") for _ in range(5)] == [b"v1"] * 5
        assert "mget" not in _commandstats(redis_server)
        assert storage.near_hits == 5
    finally:
        await storage.aclose()


async def test_near_entry_follows_another_process_write_flush_and_flushall(
        redis_url: str) -> None:
    mine, other = _near(redis_url), _near(redis_url)
    probe = Redis.from_url(redis_url)
    try:
        await _ready(mine)
        await other.set(NS, "k", b"v1", 60)
        hits = mine.near_hits
        async def near_v1() -> bool:
            # the first reply is kept near unless the set's invalidation overtook it
            return await mine.get(NS, "k") == b"v1" and mine.near_hits > hits
        await _until(near_v1, "v1 served from the near cache")

        await other.set(NS, "k", b"v2", 60)
        async def sees_v2() -> bool:
            return await mine.get(NS, "k") == b"v2"
        await _until(sees_v2, "another process's store replaces the near entry")

        await other.flush(NS)
        async def flushed() -> bool:
            return await mine.get(NS, "k") is None
        await _until(flushed, "another process's flush empties the stage")

        await other.set(NS, "k", b"v3", 60)
        await _until(lambda: _equals(mine, "k", b"v3"), "the entry after the flush")
        await probe.flushall()
        await _until(flushed, "FLUSHALL empties the near cache")
    finally:
        await probe.aclose()
        await mine.aclose()
        await other.aclose()


async def _equals(storage: RedisCacheStorage, key: str, value: bytes) -> bool:
    return await storage.get(NS, key) == value


async def test_near_entry_expires_with_the_redis_ttl(redis_url: str) -> None:
    clock = ManualClock()
    storage = _near(redis_url, clock)
    try:
        await _ready(storage)
        await storage.set(NS, "k", b"v", 60)
        assert await storage.get(NS, "k") == b"v"
        clock.advance(59.9)
        assert await storage.get(NS, "k") == b"v"
        hits = storage.near_hits
        clock.advance(0.2)
        assert await storage.get(NS, "k") is None  # neither near nor from Redis's stamp
        assert storage.near_hits == hits
    finally:
        await storage.aclose()


async def test_own_store_and_flush_are_seen_at_once(redis_url: str) -> None:
    storage = _near(redis_url)
    try:
        await _ready(storage)
        await storage.set(NS, "k", b"v1", 60)
        assert await storage.get(NS, "k") == b"v1"
        await storage.set(NS, "k", b"v2", 60)  # no wait for the invalidation
        assert await storage.get(NS, "k") == b"v2"
        await storage.flush(NS)
        assert await storage.get(NS, "k") is None
    finally:
        await storage.aclose()


async def test_invalidation_while_the_mget_is_out_keeps_the_reply_out_of_the_near_cache(
        redis_url: str) -> None:
    storage = _near(redis_url)
    try:
        await _ready(storage)
        await storage.set(NS, "k", b"v1", 60)
        lookup = asyncio.ensure_future(storage.get(NS, "k"))
        await asyncio.sleep(0)  # queued; its MGET goes out on the next loop turns
        # the invalidation of a write that Redis ran after the MGET, arriving first
        storage._invalidated([entry_key(NS, "k").encode()])
        assert await lookup == b"v1"
        hits = storage.near_hits
        assert await storage.get(NS, "k") == b"v1"
        assert storage.near_hits == hits  # went to Redis: the reply was not kept
    finally:
        await storage.aclose()


async def test_near_cache_is_emptied_and_unused_while_the_listener_is_down(
        own_redis: RedisServer) -> None:
    storage = _near(own_redis.url)
    try:
        await _ready(storage)
        await storage.set(NS, "k", b"old", 60)
        assert await storage.get(NS, "k") == b"old"
        own_redis.stop()
        await _until(lambda: not storage.near_ready, "the listener sees Redis gone")
        with pytest.raises(CacheStorageError):  # not served from the near cache
            await storage.get(NS, "k")
        own_redis.start()  # empty: what was published meanwhile is lost
        await _ready(storage)
        assert await storage.get(NS, "k") is None
    finally:
        await storage.aclose()


async def test_cluster_store_has_no_near_cache(redis_cluster_url: str) -> None:
    storage = cache_storage_from_url(redis_cluster_url, near_bytes=NEAR_BYTES)
    assert isinstance(storage, RedisCacheStorage)
    try:
        await storage.set(NS, "k", b"v", 60)
        assert [await storage.get(NS, "k") for _ in range(3)] == [b"v"] * 3
        assert storage.near_hits == 0 and not storage.near_ready
    finally:
        await storage.aclose()


async def test_repeat_hits_decode_once_and_a_new_entry_is_decoded_anew() -> None:
    cache = ResponseCache(MemoryCacheStorage(max_bytes=64 * 2**20, clock=ManualClock()))
    await cache.store(NS, "k", RESP, 60)
    first = await cache.lookup(NS, "k")
    assert first == RESP and await cache.lookup(NS, "k") is first  # the same bytes: no decode
    newer = CachedResponse(201, (), b"newer")
    await cache.store(NS, "k", newer, 60)
    assert await cache.lookup(NS, "k") == newer


async def test_decoded_entries_held_are_bounded_in_bytes() -> None:
    cache = ResponseCache(MemoryCacheStorage(max_bytes=256 * 2**20, clock=ManualClock()))
    big = CachedResponse(200, (), b"x" * (2**20 - 100))
    for i in range(40):  # 40 MiB of entries, each looked up
        await cache.store(NS, f"k{i}", big, 60)
        assert await cache.lookup(NS, f"k{i}") == big
    assert cache._decoded_bytes <= 16 * 2**20
