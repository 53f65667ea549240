from __future__ import annotations

import pytest

from cache import cache_storage_from_url
from cache.storage import MemoryCacheStorage, RedisCacheStorage
from ratelimit.clock import ManualClock


async def test_memory_url_takes_the_clock_and_the_bound() -> None:
    clock = ManualClock()
    storage = cache_storage_from_url("memory://", clock=clock, max_bytes=4096)
    assert isinstance(storage, MemoryCacheStorage)
    assert storage.max_bytes == 4096
    await storage.set("a:b", "k", b"v", 10)
    clock.advance(10)
    assert await storage.get("a:b", "k") is None


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1", "redis+cluster://127.0.0.1:1"]
)
async def test_redis_urls(url: str) -> None:
    storage = cache_storage_from_url(url)
    assert isinstance(storage, RedisCacheStorage)
    await storage.aclose()


@pytest.mark.parametrize("url", ["", "memcached://x", "http://127.0.0.1", "memory:"])
def test_unknown_url_says_what_is_allowed(url: str) -> None:
    with pytest.raises(ValueError, match="must be memory://"):
        cache_storage_from_url(url)


def test_memory_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        cache_storage_from_url("memory://", max_bytes=0)
