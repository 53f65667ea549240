"""Response compression in the real gateway (issue 16, item 7; spec 10.4): gzip or deflate by
the client's Accept-Encoding for bodies at or above minimumCompressionSize only, for every
integration type (HTTP_PROXY, a streamed backend body, MOCK, a cache hit), never for an
already-encoded body, a HEAD answer or an API without the setting."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.support.gateway import run_gateway, serve_app, write_config

THRESHOLD = 1024


def body_of(size: int) -> bytes:
    return (b'{"data":"' + b"abcdefghij" * size)[:size - 2] + b'"}'


def backend_app() -> web.Application:
    async def sized(request: web.Request) -> web.StreamResponse:
        size = int(request.query["size"])
        if request.query.get("chunked"):  # no Content-Length: the gateway streams it
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            await resp.write(body_of(size))
            await resp.write_eof()
            return resp
        return web.Response(body=body_of(size), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sized)
    return app


def _api(compression: int | None) -> dict[str, Any]:
    proxy = {"type": "http_proxy", "httpMethod": "ANY",
             "uri": "http://${stageVariables.backend}/sized"}
    api: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {"title": "compressed", "version": "1"},
        "paths": {
            "/sized": {"x-amazon-apigateway-any-method": {
                "parameters": [{"name": "size", "in": "query", "schema": {"type": "string"}},
                               {"name": "chunked", "in": "query",
                                "schema": {"type": "string"}}],
                "responses": {}, "x-amazon-apigateway-integration": {
                    **proxy, "cacheKeyParameters": ["method.request.querystring.size",
                                                    "method.request.querystring.chunked"]}}},
            "/mock": {"get": {"responses": {}, "x-amazon-apigateway-integration": {
                "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                "responses": {"default": {"statusCode": "200", "responseTemplates": {
                    "application/json": "#foreach($i in [1..300])$i,#end"}}}}}},
            "/encoded": {"get": {"responses": {}, "x-amazon-apigateway-integration": {
                "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                "responses": {"default": {
                    "statusCode": "200",
                    "responseParameters": {"method.response.header.Content-Encoding": "'br'"},
                    "responseTemplates": {
                        "application/json": "#foreach($i in [1..300])$i,#end"}}}}}},
        },
    }
    if compression is not None:
        api["x-amazon-apigateway-minimum-compression-size"] = compression
    return api


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with serve_app(backend_app()) as backend:
        config = write_config(tmp_path, _api(THRESHOLD),
                              variables={"backend": backend[len("http://"):]},
                              stage_extra={"cacheClusterEnabled": True})
        async with run_gateway(config) as gateway, aiohttp.ClientSession(
                auto_decompress=False, skip_auto_headers=["Accept-Encoding"]) as client:
            yield gateway.url + "/prod", client


async def _get(client: aiohttp.ClientSession, url: str, accept: str | None,
               method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    headers = {} if accept is None else {"Accept-Encoding": accept}
    async with client.request(method, url, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_gzip_at_or_above_the_threshold_only(gw: Any) -> None:
    url, client = gw
    for size in (THRESHOLD, 5000):
        status, headers, body = await _get(client, f"{url}/sized?size={size}", "gzip")
        assert status == 200
        assert headers["Content-Encoding"] == "gzip"
        assert int(headers["Content-Length"]) == len(body) < size
        assert gzip.decompress(body) == body_of(size)
    status, headers, body = await _get(client, f"{url}/sized?size={THRESHOLD - 1}", "gzip")
    assert "Content-Encoding" not in headers
    assert body == body_of(THRESHOLD - 1)


async def test_the_clients_preferred_coding(gw: Any) -> None:
    url, client = gw
    target = f"{url}/sized?size=4000"
    _, headers, body = await _get(client, target, "deflate")
    assert headers["Content-Encoding"] == "deflate"
    assert zlib.decompress(body) == body_of(4000)
    _, headers, _ = await _get(client, target, "gzip;q=0.5, deflate;q=1.0")
    assert headers["Content-Encoding"] == "deflate"
    _, headers, _ = await _get(client, target, "gzip, deflate, br")
    assert headers["Content-Encoding"] == "gzip"
    for accept in (None, "identity", "br", "*", "gzip;q=0"):
        _, headers, body = await _get(client, target, accept)
        assert "Content-Encoding" not in headers, accept
        assert body == body_of(4000)


async def test_every_integration_type_and_a_cache_hit(gw: Any) -> None:
    url, client = gw
    # a streamed (chunked) backend body is read whole and compressed
    _, headers, body = await _get(client, f"{url}/sized?size=200000&chunked=1", "gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == body_of(200000)
    # MOCK
    _, headers, body = await _get(client, f"{url}/mock", "gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == "".join(f"{i}," for i in range(1, 301)).encode()
    # a cache hit: the entry is kept as the integration gave it, encoded per client
    _, first, _ = await _get(client, f"{url}/sized?size=3000", None)
    assert "Content-Encoding" not in first
    _, headers, body = await _get(client, f"{url}/sized?size=3000", "gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == body_of(3000)


async def test_never_twice_nor_for_head(gw: Any) -> None:
    url, client = gw
    _, headers, body = await _get(client, f"{url}/encoded", "gzip")
    assert headers["Content-Encoding"] == "br"  # the integration's own coding: left alone
    assert body.startswith(b"1,2,3,")
    status, headers, body = await _get(client, f"{url}/sized?size=4000", "gzip", "HEAD")
    assert status == 200 and body == b"" and "Content-Encoding" not in headers


async def test_an_api_without_the_setting_never_compresses(tmp_path: Path) -> None:
    async with serve_app(backend_app()) as backend:
        config = write_config(tmp_path, _api(None),
                              variables={"backend": backend[len("http://"):]})
        async with run_gateway(config) as gateway, aiohttp.ClientSession(
                auto_decompress=False) as client:
            _, headers, body = await _get(client, f"{gateway.url}/prod/sized?size=50000",
                                          "gzip")
    assert "Content-Encoding" not in headers
    assert body == body_of(50000)
