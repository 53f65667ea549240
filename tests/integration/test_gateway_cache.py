"""The stage cache through the real gateway, on memory and Redis (issue 4)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from cache.storage.redis import RedisCacheStorage
from tests.support.gateway import run_gateway, serve_app, write_config
from tests.support.openapi import (
    api,
    backend_uri,
    header_param,
    path_param,
    proxy_route,
    query_param,
)
from tests.support.stores import store_from, store_params
from tests.support.waiting import eventually

ITEM_ID = {"integration.request.path.id": "method.request.path.id"}
OPENAPI = api({
    "/items/{id}": {
        "get": proxy_route(
            backend_uri("/items/{id}"),
            parameters=[path_param("id"), query_param("color"), header_param("X-Tenant")],
            request_parameters=ITEM_ID,
            cache_key_parameters=["method.request.path.id", "method.request.querystring.color",
                                  "method.request.header.X-Tenant"]),
        "post": proxy_route(backend_uri("/items/{id}"), http_method="POST",
                            parameters=[path_param("id")], request_parameters=ITEM_ID),
    },
    "/shared/{id}": {"get": proxy_route(backend_uri("/items/{id}"), parameters=[path_param("id")],
                                        request_parameters=ITEM_ID)},
    "/nocache": {"get": proxy_route(backend_uri("/items/n"))},
    "/strict": {"get": proxy_route(backend_uri("/items/s"), security=["api_key"])},
    "/lenient": {"get": proxy_route(backend_uri("/items/l"))},
    "/silent": {"get": proxy_route(backend_uri("/items/q"))},
    "/open": {"get": proxy_route(backend_uri("/items/o"))},
    "/fail": {"get": proxy_route(backend_uri("/fail"))},
    "/huge": {"get": proxy_route(backend_uri("/huge"))},
}, api_key=True)

ADMIN = "admin-0123456789abcdefghij"
USER = "user-0123456789abcdefghijk"


class Backend:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.gate: asyncio.Event | None = None

    def app(self) -> web.Application:
        async def item(request: web.Request) -> web.Response:
            key = request.path
            self.calls[key] = self.calls.get(key, 0) + 1
            if self.gate is not None:
                await self.gate.wait()
            return web.json_response({"path": key, "n": self.calls[key],
                                      "q": request.query_string,
                                      "tenant": request.headers.get("X-Tenant")},
                                     headers={"X-From": "backend"})

        async def fail(request: web.Request) -> web.Response:
            self.calls["/fail"] = self.calls.get("/fail", 0) + 1
            return web.Response(status=500, text="boom")

        async def huge(request: web.Request) -> web.Response:
            self.calls["/huge"] = self.calls.get("/huge", 0) + 1
            return web.Response(body=b"h" * 1_048_577)

        app = web.Application()
        app.router.add_route("*", "/items/{id}", item)
        app.router.add_get("/fail", fail)
        app.router.add_get("/huge", huge)
        return app


# "redis" runs with the default near cache, "redis-plain" without one
@pytest.fixture(params=store_params("memory", "redis", "redis-plain"))
def storage(request: pytest.FixtureRequest) -> dict[str, object]:
    store = store_from(request)
    return {"url": store.url, "nearCacheMb": 0} if store.variant == "plain" else {"url": store.url}


@pytest.fixture
async def env(tmp_path: Path, storage: dict[str, object]):  # type: ignore[no-untyped-def]
    backend = Backend()
    async with serve_app(backend.app()) as upstream:
        config = write_config(
            tmp_path, OPENAPI, variables={"backend": upstream.removeprefix("http://")},
            stage_extra={"cacheClusterEnabled": True, "methodSettings": {
                "*/*": {"cacheTtlInSeconds": 300},
                "items/{id}/POST": {"cachingEnabled": False},
                "nocache/GET": {"cachingEnabled": False},
                "strict/GET": {"unauthorizedCacheControlHeaderStrategy": "FAIL_WITH_403"},
                "silent/GET": {"unauthorizedCacheControlHeaderStrategy":
                               "SUCCEED_WITHOUT_RESPONSE_HEADER"},
                "open/GET": {"requireAuthorizationForCacheControl": False},
            }},
            extra={"storage": storage,
                   "usagePlans": [{"id": "p", "apiStages": [{"apiId": "petstore",
                                                              "stage": "prod"}],
                                   "apiKeys": ["admin", "user"]}],
                   "apiKeys": [{"id": "admin", "value": ADMIN, "invalidateCache": True},
                               {"id": "user", "value": USER}]})
        async with run_gateway(config) as gw, aiohttp.ClientSession() as client:
            yield gw, client, backend


async def get(client: aiohttp.ClientSession, url: str, **headers: str
              ) -> tuple[int, dict[str, object] | bytes, aiohttp.typedefs.LooseHeaders]:
    async with client.get(url, headers=headers) as resp:
        body = await resp.read()
        try:
            parsed: dict[str, object] | bytes = await resp.json()
        except (aiohttp.ContentTypeError, ValueError):
            parsed = body
        return resp.status, parsed, resp.headers


async def test_hit_serves_stored_response_without_integration(env) -> None:  # type: ignore[no-untyped-def]
    gw, client, backend = env
    _, first, h1 = await get(client, f"{gw.url}/prod/items/1")
    _, second, h2 = await get(client, f"{gw.url}/prod/items/1")
    assert first == second == {"path": "/items/1", "n": 1, "q": "", "tenant": None}
    assert backend.calls["/items/1"] == 1
    assert h2["X-From"] == "backend"
    assert h1["x-amzn-RequestId"] != h2["x-amzn-RequestId"]
    metrics = gw.runtime.metrics.render()[0].decode()
    assert ('sluice_cache_hits_total{api="petstore",method="GET",resource="/items/{id}",'
            'stage="prod"} 1.0') in metrics
    assert ('sluice_cache_misses_total{api="petstore",method="GET",resource="/items/{id}",'
            'stage="prod"} 1.0') in metrics


async def test_key_parameters(env) -> None:  # type: ignore[no-untyped-def]
    gw, client, backend = env
    await get(client, f"{gw.url}/prod/items/1?color=red")
    await get(client, f"{gw.url}/prod/items/1?color=blue")
    await get(client, f"{gw.url}/prod/items/1?color=red&other=x")  # not a key parameter
    assert backend.calls["/items/1"] == 2
    await get(client, f"{gw.url}/prod/items/1", **{"X-Tenant": "a"})
    await get(client, f"{gw.url}/prod/items/1", **{"x-tenant": "a"})
    await get(client, f"{gw.url}/prod/items/1", **{"X-Tenant": "b"})
    assert backend.calls["/items/1"] == 4


async def test_without_key_parameters_one_entry_per_resource(env) -> None:  # type: ignore[no-untyped-def]
    gw, client, backend = env
    _, a, _ = await get(client, f"{gw.url}/prod/shared/1")
    _, b, _ = await get(client, f"{gw.url}/prod/shared/2")
    assert a == b  # AWS: path parameters are not in the key unless named
    assert backend.calls == {"/items/1": 1}


async def test_what_is_not_cached(env) -> None:  # type: ignore[no-untyped-def]
    gw, client, backend = env
    for _ in range(2):
        await get(client, f"{gw.url}/prod/nocache")
        async with client.post(f"{gw.url}/prod/items/7") as resp:
            await resp.read()
        status, _, _ = await get(client, f"{gw.url}/prod/fail")
        assert status == 500
        await get(client, f"{gw.url}/prod/huge")
    assert backend.calls["/items/n"] == 2
    assert backend.calls["/items/7"] == 2
    assert backend.calls["/fail"] == 2  # non-2xx is not stored
    assert backend.calls["/huge"] == 2  # over 1 MiB is not stored


async def test_max_age_0_authorised_refreshes(env) -> None:  # type: ignore[no-untyped-def]
    gw, client, _backend = env
    await get(client, f"{gw.url}/prod/strict", **{"x-api-key": ADMIN})
    _, fresh, _ = await get(client, f"{gw.url}/prod/strict",
                            **{"x-api-key": ADMIN, "Cache-Control": "max-age=0"})
    assert fresh["n"] == 2  # type: ignore[index]
    _, cached, _ = await get(client, f"{gw.url}/prod/strict", **{"x-api-key": USER})
    assert cached["n"] == 2  # type: ignore[index]  # the entry was replaced


async def test_unauthorised_strategies(env) -> None:  # type: ignore[no-untyped-def]
    gw, client, backend = env
    await get(client, f"{gw.url}/prod/strict", **{"x-api-key": USER})
    status, body, headers = await get(client, f"{gw.url}/prod/strict",
                                      **{"x-api-key": USER, "Cache-Control": "max-age=0"})
    assert status == 403
    assert body == {"message": "Unauthorized"}
    assert backend.calls["/items/s"] == 1  # entry untouched, integration not called

    await get(client, f"{gw.url}/prod/lenient")
    status, body, headers = await get(client, f"{gw.url}/prod/lenient",
                                      **{"Cache-Control": "no-cache, max-age=0"})
    assert status == 200 and body["n"] == 1  # type: ignore[index]
    assert headers["Warning"] == ("199 Cache-control headers were ignored because the caller "
                                  "was unauthorized.")

    await get(client, f"{gw.url}/prod/silent")
    status, body, headers = await get(client, f"{gw.url}/prod/silent",
                                      **{"Cache-Control": "max-age=0"})
    assert status == 200 and body["n"] == 1  # type: ignore[index]
    assert "Warning" not in headers

    await get(client, f"{gw.url}/prod/open")
    _, body, _ = await get(client, f"{gw.url}/prod/open", **{"Cache-Control": "max-age=0"})
    assert body["n"] == 2  # type: ignore[index]  # no authorization required: anyone refreshes


async def test_single_flight_50_concurrent_misses(env) -> None:  # type: ignore[no-untyped-def]
    gw, client, backend = env
    backend.gate = asyncio.Event()
    pending = [asyncio.ensure_future(get(client, f"{gw.url}/prod/items/9")) for _ in range(50)]
    while backend.calls.get("/items/9", 0) < 1:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # let the other 49 arrive and join
    backend.gate.set()
    results = await asyncio.gather(*pending)
    assert backend.calls["/items/9"] == 1
    assert all(r[0] == 200 and r[1]["n"] == 1 for r in results)  # type: ignore[index]


async def test_flush_endpoint(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gw, client, backend = env
    await get(client, f"{gw.url}/prod/items/1")
    await get(client, f"{gw.url}/prod/items/1")
    assert backend.calls["/items/1"] == 1
    await gw.runtime.cache.flush("petstore:prod")
    await get(client, f"{gw.url}/prod/items/1")
    assert backend.calls["/items/1"] == 2


async def test_two_gateways_on_redis_see_each_others_refresh_and_flush(
        tmp_path: Path, redis_url: str) -> None:
    """Each gateway keeps hits in its near cache; Redis's invalidations keep them coherent."""
    backend = Backend()
    async with serve_app(backend.app()) as upstream:
        config = write_config(
            tmp_path, OPENAPI, variables={"backend": upstream.removeprefix("http://")},
            stage_extra={"cacheClusterEnabled": True,
                         "methodSettings": {"*/*": {"cacheTtlInSeconds": 300,
                                                    "requireAuthorizationForCacheControl":
                                                        False}}},
            extra={"storage": {"url": redis_url}})
        async with run_gateway(config) as a, run_gateway(config) as b, \
                aiohttp.ClientSession() as client:
            url_a, url_b = f"{a.url}/prod/items/1", f"{b.url}/prod/items/1"

            async def n_at(url: str) -> object:
                _, body, _ = await get(client, url)
                return body["n"]  # type: ignore[index]

            async def until(url: str, n: int) -> None:
                async def serves() -> bool:
                    return await n_at(url) == n
                await eventually(serves, 2.0, f"{url} serves n={n}")

            assert await n_at(url_a) == 1
            await until(url_b, 1)  # B's first lookup reads A's entry from Redis
            storage = a.runtime.cache.storage
            assert isinstance(storage, RedisCacheStorage) and storage.near_ready
            async def near_hit() -> bool:  # A serves its hits from memory...
                assert await n_at(url_a) == 1
                return storage.near_hits > 0
            await eventually(near_hit, 2.0, "a near-cache hit")

            await get(client, url_b, **{"Cache-Control": "max-age=0"})
            await until(url_a, 2)  # ...and yet sees B's refresh
            await b.runtime.cache.flush("petstore:prod")
            await until(url_a, 3)  # and B's flush: A misses and calls the backend
            assert backend.calls["/items/1"] == 3
