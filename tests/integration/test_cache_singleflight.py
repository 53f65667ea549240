"""Single-flight against a real upstream: an aiohttp app on a loopback port 0 that counts its
requests and answers only when the test releases it, so the overlap is certain, not timed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from cache import CachedResponse, ResponseCache, cache_storage_from_url
from ratelimit.clock import ManualClock

NS = "petstore:prod"


@dataclass
class Upstream:
    url: str
    session: aiohttp.ClientSession
    hits: Counter[str] = field(default_factory=Counter)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def fetcher(self, path: str) -> Callable[[], Awaitable[CachedResponse]]:
        async def fetch() -> CachedResponse:
            async with self.session.get(self.url + path) as resp:
                resp.raise_for_status()
                return CachedResponse(resp.status, (), await resp.read())

        return fetch


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state: dict[str, Upstream] = {}

    async def handler(request: web.Request) -> web.Response:
        up = state["up"]
        up.hits[request.path] += 1
        up.arrived.set()
        await up.release.wait()
        if request.path.startswith("/fail"):
            return web.Response(status=500)
        return web.Response(body=f"body of {request.path}".encode())

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        state["up"] = Upstream(f"http://127.0.0.1:{port}", session)
        yield state["up"]
        state["up"].release.set()
    await runner.cleanup()


@pytest.fixture
async def cache() -> AsyncIterator[ResponseCache]:
    clock = ManualClock()
    cache = ResponseCache(cache_storage_from_url("memory://", clock=clock), clock=clock)
    yield cache
    await cache.aclose()


async def _release_when_arrived(up: Upstream) -> None:
    # Every caller task runs up to its first await before the upstream sees the first
    # request, so when it arrives all of them are already waiting.
    await up.arrived.wait()
    up.release.set()


async def test_fifty_callers_share_one_fetch(cache: ResponseCache, upstream: Upstream) -> None:
    calls = [cache.fetch_once(NS, "k", upstream.fetcher("/pets"), timeout=10) for _ in range(50)]
    results = await asyncio.gather(*calls, _release_when_arrived(upstream))
    assert upstream.hits == Counter({"/pets": 1})
    assert results[:50] == [CachedResponse(200, (), b"body of /pets")] * 50
    assert cache.joined == 49


async def test_each_key_has_its_own_fetch(cache: ResponseCache, upstream: Upstream) -> None:
    calls = [
        cache.fetch_once(NS, key, upstream.fetcher(f"/{key}"), timeout=10)
        for key in ("a", "b") * 10
    ] + [cache.fetch_once("petstore:beta", "a", upstream.fetcher("/a"), timeout=10)]
    results = await asyncio.gather(*calls, _release_when_arrived(upstream))
    assert upstream.hits == Counter({"/a": 2, "/b": 1})  # prod a, prod b, beta a
    assert [r.body for r in results[:2]] == [b"body of /a", b"body of /b"]


async def test_a_failed_fetch_fails_every_caller_and_is_not_remembered(
    cache: ResponseCache, upstream: Upstream
) -> None:
    calls = [cache.fetch_once(NS, "k", upstream.fetcher("/fail"), timeout=10) for _ in range(20)]
    results = await asyncio.gather(*calls, _release_when_arrived(upstream), return_exceptions=True)
    errors = results[:20]
    assert all(isinstance(e, aiohttp.ClientResponseError) and e.status == 500 for e in errors)
    assert upstream.hits["/fail"] == 1
    assert await cache.fetch_once(NS, "k", upstream.fetcher("/ok"), timeout=10) == (
        CachedResponse(200, (), b"body of /ok")
    )


async def test_a_joiner_gives_up_after_its_timeout(
    cache: ResponseCache, upstream: Upstream
) -> None:
    leader = asyncio.ensure_future(cache.fetch_once(NS, "k", upstream.fetcher("/slow"), timeout=10))
    await upstream.arrived.wait()
    with pytest.raises(TimeoutError):
        await cache.fetch_once(NS, "k", upstream.fetcher("/slow"), timeout=0.05)
    upstream.release.set()
    assert (await leader).body == b"body of /slow"  # the fetch itself went on
    assert upstream.hits["/slow"] == 1


async def test_a_cancelled_leader_does_not_fail_the_joiners(
    cache: ResponseCache, upstream: Upstream
) -> None:
    leader = asyncio.ensure_future(cache.fetch_once(NS, "k", upstream.fetcher("/x"), timeout=10))
    await upstream.arrived.wait()
    joiner = asyncio.ensure_future(cache.fetch_once(NS, "k", upstream.fetcher("/x"), timeout=10))
    await asyncio.sleep(0)  # one loop turn: the joiner starts and joins
    assert cache.joined == 1
    leader.cancel()
    upstream.release.set()
    assert (await joiner).body == b"body of /x"
    assert leader.cancelled()
    assert upstream.hits["/x"] == 1


async def test_miss_fetch_store_hit_flow(cache: ResponseCache, upstream: Upstream) -> None:
    """The gateway's order: lookup, one shared fetch that stores, then hits."""

    async def fetch_and_store() -> CachedResponse:
        resp = await upstream.fetcher("/pets")()
        await cache.store(NS, "k", resp, 300)
        return resp

    upstream.release.set()
    assert await cache.lookup(NS, "k") is None
    first = await asyncio.gather(
        *(cache.fetch_once(NS, "k", fetch_and_store, timeout=10) for _ in range(10))
    )
    assert await cache.lookup(NS, "k") == first[0]
    assert upstream.hits["/pets"] == 1
