"""Fidelity fixes of issue 16, item 9, in the real gateway: the client headers AWS drops before
an HTTP_PROXY backend (LocalStack's AWS-validated TestApiGatewayHeaderRemapping request,
byte for byte), an encoded request body sent decoded, a mapping of a reserved header answering
500, and stage-wide cachingEnabled caching GET only (an ANY method its GET requests only)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.gateway import run_gateway, serve_app, write_config

# The request LocalStack's test sends to AWS (test_apigateway_header_remapping_http).
RECORDED_REQUEST_HEADERS = [
    ("Accept", "application/json"), ("Accept-Charset", "UTF-8"), ("Accept-Encoding", "br"),
    ("Age", "request_Age"), ("Authorization", "Unauthorized"), ("Connection", "close"),
    ("Content-Encoding", "deflate"), ("Content-MD5", "request_Content-MD5"),
    ("Content-Type", "application/json"), ("Date", "request_Date"),
    ("Expect", "100-continue"), ("Max-Forwards", "2"),
    ("Pragma", "cache"), ("Proxy-Authenticate", "Basic"), ("Range", "bytes=500-999"),
    ("Referer", "https://example.com/"), ("Server", "https://example.com/"), ("TE", "deflate"),
    ("Trailer", "Expires"), ("Upgrade", "HTTP/2.0"), ("User-Agent", "localStack/0.0"),
    ("Via", "p.example.net"), ("Warn", "299 localStack/0.0"),
    ("WWW-Authenticate", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
]
# What reached the HTTP_PROXY backend on AWS (recorded), besides what the gateway adds
RECORDED_PASSED = {"accept", "accept-charset", "accept-encoding", "age", "authorization",
                   "content-type", "date", "pragma", "range", "referer", "user-agent", "warn"}
GATEWAY_ADDED = {"host", "content-length", "x-amzn-apigateway-api-id", "x-forwarded-for",
                 "x-forwarded-port", "x-forwarded-proto"}


def _proxy(method: str = "ANY", **extra: Any) -> dict[str, Any]:
    return {"responses": {}, "x-amazon-apigateway-integration": {
        "type": "http_proxy", "httpMethod": method,
        "uri": "http://${stageVariables.backend}/echo", **extra}}


API: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "fidelity", "version": "1"},
    "paths": {
        "/echo": {"get": _proxy(), "post": _proxy()},
        "/content-length": {"get": _proxy(requestParameters={
            "integration.request.header.Content-Length": "'0'"})},
        "/transfer-encoding": {"get": _proxy(requestParameters={
            "integration.request.header.Transfer-Encoding": "'deflate'"})},
        "/mapped": {"get": {**_proxy(requestParameters={
            "integration.request.header.X-Q": "method.request.querystring.q"}),
            "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}]}},
        "/cached": {"get": _proxy(), "post": _proxy(), "put": _proxy()},
        "/any": {"x-amazon-apigateway-any-method": _proxy()},
    },
}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[str, list[Any]]]:
    seen: list[Any] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append((request.method, [(k, v) for k, v in request.headers.items()],
                     await request.read()))
        return web.json_response({"n": len(seen)})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    async with serve_app(app) as backend:
        config = write_config(
            tmp_path, API, variables={"backend": backend[len("http://"):]},
            stage_extra={"cacheClusterEnabled": True, "methodSettings": {
                "*/*": {"cachingEnabled": True}, "cached/PUT": {"cachingEnabled": True},
                "mapped/GET": {"cachingEnabled": False}}})
        async with run_gateway(config) as gateway:
            yield gateway.url + "/prod", seen


async def _raw(url: str, head: str, body: bytes = b"") -> bytes:
    host, _, port = url.removeprefix("http://").partition("/")[0].partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode("latin-1") + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    return data


async def test_the_headers_aws_drops_before_an_http_proxy_backend(gw: Any) -> None:
    url, seen = gw
    # the recorded request also named Transfer-Encoding: chunked, left out here with its
    # framing (aiohttp's server consumes it); the request is a GET without a body
    lines = "".join(f"{k}: {v}\r\n" for k, v in RECORDED_REQUEST_HEADERS)
    answer = await _raw(url, f"GET /prod/echo HTTP/1.1\r\nHost: x\r\n{lines}\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    _method, headers, _ = seen[-1]
    names = {k.lower() for k, _ in headers}
    assert names == RECORDED_PASSED | GATEWAY_ADDED
    assert dict(headers)["User-Agent"] == "localStack/0.0"  # HTTP_PROXY keeps the client's


async def test_an_encoded_request_body_reaches_the_backend_decoded(gw: Any) -> None:
    url, seen = gw
    async with aiohttp.ClientSession() as client, client.post(
            f"{url}/echo", data=gzip.compress(b'{"a": 1}'),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}) as resp:
        assert resp.status == 200
    _, headers, body = seen[-1]
    assert body == b'{"a": 1}'
    assert "content-encoding" not in {k.lower() for k, _ in headers}


async def test_a_reserved_header_mapping_answers_500(gw: Any) -> None:
    url, seen = gw
    async with aiohttp.ClientSession() as client:
        for path in ("/content-length", "/transfer-encoding"):
            async with client.get(f"{url}{path}") as resp:
                assert resp.status == 500
                assert await resp.read() == b'{"message": "Internal server error"}'
                assert resp.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert seen == []


async def test_stage_wide_caching_covers_get_only(gw: Any) -> None:
    url, _seen = gw
    async with aiohttp.ClientSession() as client:
        for method, cached in (("GET", True), ("POST", False), ("PUT", True)):
            numbers = []
            for _ in range(2):
                async with client.request(method, f"{url}/cached", data=b"{}") as resp:
                    numbers.append(orjson.loads(await resp.read())["n"])
            assert (numbers[0] == numbers[1]) is cached, method
        # ANY: its GET requests are cached (under "*/*"), its other requests never
        for method, cached in (("GET", True), ("POST", False), ("DELETE", False)):
            numbers = []
            for _ in range(2):
                async with client.request(method, f"{url}/any") as resp:
                    numbers.append(orjson.loads(await resp.read())["n"])
            assert (numbers[0] == numbers[1]) is cached, f"ANY {method}"


async def test_a_mapped_value_cannot_split_the_backend_request(gw: Any) -> None:
    url, seen = gw
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{url}/mapped?q=fine%20value") as resp:
            assert resp.status == 200
        assert dict(seen[-1][1])["X-Q"] == "fine value"
        async with client.get(f"{url}/mapped?q=a%0D%0AX-Evil:%201") as resp:
            assert resp.status == 500
    assert len(seen) == 1
