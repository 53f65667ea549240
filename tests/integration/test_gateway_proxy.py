"""HTTP_PROXY end to end: a real upstream, the real gateway server, real sockets (issue 2,
items 4, 5, 9)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.gateway import run_gateway, serve_app, write_config

OPENAPI = """
openapi: 3.0.1
info: {title: t, version: "1"}
paths:
  /pets:
    get:
      parameters:
        - {name: x-client, in: header, schema: {type: string}}
        - {name: limit, in: query, schema: {type: string}}
        - {name: tag, in: query, schema: {type: array, items: {type: string}}}
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/pets"
        requestParameters:
          integration.request.querystring.added: "'yes'"
          integration.request.header.X-Stage: "stageVariables.label"
          integration.request.header.X-Client-Id: "method.request.header.x-client"
          integration.request.header.X-Limit: "method.request.querystring.limit"
          integration.request.header.X-Tags: "method.request.multivaluequerystring.tag"
    post:
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: "http://${stageVariables.backend}/echo"
  /pets/{petId}:
    get:
      parameters: [{name: petId, in: path, required: true, schema: {type: string}}]
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/items/{id}"
        requestParameters:
          integration.request.path.id: method.request.path.petId
  /missing:
    get:
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.nothere}/x"
  /status/{code}:
    get:
      parameters: [{name: code, in: path, required: true, schema: {type: string}}]
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/status/{code}"
        requestParameters:
          integration.request.path.code: method.request.path.code
  /big:
    get:
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/big"
    put:
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: PUT
        uri: "http://${stageVariables.backend}/upload"
  /{proxy+}:
    x-amazon-apigateway-any-method:
      parameters: [{name: proxy, in: path, required: true, schema: {type: string}}]
      responses: {}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "http://${stageVariables.backend}/any/{proxy}"
        requestParameters:
          integration.request.path.proxy: method.request.path.proxy
"""

BIG = bytes(range(256)) * 8192  # 2 MiB


def upstream_app(seen: list[dict[str, object]]) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({"method": request.method, "path": request.raw_path,
                     "headers": dict(request.headers), "body": body})
        return web.json_response(
            {"method": request.method, "path": request.raw_path, "len": len(body)},
            headers={"X-Backend": "1", "Server": "backend/1.0",
                     "x-amzn-RequestId": "backend-id"})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="from backend")

    async def big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = len(BIG)
        await resp.prepare(request)
        for i in range(0, len(BIG), 65536):
            await resp.write(BIG[i:i + 65536])
        await resp.write_eof()
        return resp

    async def upload(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        total = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            total += len(chunk)
        return web.json_response({"sha256": digest.hexdigest(), "len": total})

    async def cut(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = len(BIG)
        await resp.prepare(request)
        await resp.write(BIG[:300_000])
        assert request.transport is not None
        request.transport.abort()  # the backend dies mid-body
        return resp

    app = web.Application(client_max_size=20 * 2**20)
    app.router.add_get("/any/cut", cut)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/big", big)
    app.router.add_put("/upload", upload)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    seen: list[dict[str, object]] = []
    async with serve_app(upstream_app(seen)) as upstream_url:
        backend = upstream_url.removeprefix("http://")
        config = write_config(tmp_path, OPENAPI, variables={"backend": backend, "label": "blue"})
        async with run_gateway(config) as gw, aiohttp.ClientSession() as client:
            yield gw.url, client, seen


async def test_request_passes_through_with_mappings(env) -> None:  # type: ignore[no-untyped-def]
    url, client, seen = env
    async with client.get(f"{url}/prod/pets?limit=2&x=a%20b&tag=a&tag=b",
                          headers={"x-client": "c-1", "X-Custom": "v",
                                   "Connection": "keep-alive", "TE": "trailers"}) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["method"] == "GET"
    sent = seen[-1]
    path = str(sent["path"])
    assert path.startswith("/pets?")
    assert "limit=2" in path and "x=a%20b" in path and "added=yes" in path
    headers = sent["headers"]
    assert isinstance(headers, dict)
    assert headers["X-Custom"] == "v"
    assert headers["X-Stage"] == "blue"
    assert headers["X-Client-Id"] == "c-1"
    assert headers["X-Limit"] == "2"  # from the query string, read through Call.query
    assert headers["X-Tags"] == "a,b"
    assert "TE" not in headers and "Te" not in headers
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Port"] == url.rsplit(":", 1)[1]
    assert headers["Host"] == url.removeprefix("http://").replace(
        url.rsplit(":", 1)[1], headers["Host"].rsplit(":", 1)[1])  # the backend's host:port


async def test_path_parameter_mapping_and_greedy(env) -> None:  # type: ignore[no-untyped-def]
    url, client, seen = env
    async with client.get(f"{url}/prod/pets/42") as resp:
        assert resp.status == 200
    assert seen[-1]["path"] == "/items/42"
    async with client.delete(f"{url}/prod/a/b%2Fc/d?q=1") as resp:
        assert resp.status == 200
    assert seen[-1]["method"] == "DELETE"
    assert seen[-1]["path"] == "/any/a/b%2Fc/d?q=1"


async def test_body_and_method_pass_through(env) -> None:  # type: ignore[no-untyped-def]
    url, client, seen = env
    async with client.post(f"{url}/prod/pets", data=b'{"name":"rex"}',
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["len"] == 14
    assert seen[-1]["body"] == b'{"name":"rex"}'


async def test_response_headers_remapped(env) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env
    async with client.get(f"{url}/prod/pets") as resp:
        h = resp.headers
        assert h["X-Backend"] == "1"
        assert h["x-amzn-Remapped-Server"] == "backend/1.0"
        assert h["x-amzn-Remapped-x-amzn-RequestId"] == "backend-id"
        assert "x-amzn-Remapped-Content-Length" in h
        assert "x-amzn-Remapped-Date" in h
        assert h["x-amzn-RequestId"] != "backend-id"
        uuid.UUID(h["x-amzn-RequestId"])
        assert len(h["x-amz-apigw-id"]) == 16 and h["x-amz-apigw-id"].endswith("=")


async def test_backend_status_passes_through(env) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env
    for code in (201, 400, 404, 503):
        async with client.get(f"{url}/prod/status/{code}") as resp:
            assert resp.status == code
            assert await resp.text() == "from backend"


async def test_missing_stage_variable_is_500(env) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env
    async with client.get(f"{url}/prod/missing") as resp:
        assert resp.status == 500
        assert await resp.read() == b'{"message": "Internal server error"}'
        assert resp.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


async def test_client_request_id_kept_when_uuid(env) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env
    mine = str(uuid.uuid4())
    async with client.get(f"{url}/prod/pets", headers={"x-amzn-RequestId": mine}) as resp:
        assert resp.headers["x-amzn-RequestId"] == mine
    async with client.get(f"{url}/prod/pets", headers={"x-amzn-RequestId": "nope"}) as resp:
        assert resp.headers["x-amzn-RequestId"] != "nope"
        uuid.UUID(resp.headers["x-amzn-RequestId"])
    async with client.get(f"{url}/prod/nowhere-at-all-but/x", headers={}) as resp:
        assert "x-amzn-RequestId" in resp.headers and "x-amz-apigw-id" in resp.headers


async def test_large_bodies_stream_both_ways(env) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env
    async with client.get(f"{url}/prod/big") as resp:
        assert resp.status == 200
        assert await resp.read() == BIG
    async with client.put(f"{url}/prod/big", data=BIG) as resp:
        assert resp.status == 200
        got = await resp.json()
    assert got == {"sha256": hashlib.sha256(BIG).hexdigest(), "len": len(BIG)}


async def test_request_over_10_mb_is_413_plain_text(env) -> None:  # type: ignore[no-untyped-def]
    url, client, seen = env
    before = len(seen)
    body = b"x" * (10_485_760 + 1)
    async with client.post(f"{url}/prod/pets", data=body) as resp:
        assert resp.status == 413
        assert await resp.text() == "HTTP content length exceeded 10485760 bytes."
    assert len(seen) == before  # the backend never saw it


async def test_exactly_10_mb_is_accepted(env) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env
    async with client.put(f"{url}/prod/big", data=b"y" * 10_485_760) as resp:
        assert resp.status == 200
        assert (await resp.json())["len"] == 10_485_760


async def test_concurrent_requests_all_answered(env) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env

    async def one(i: int) -> str:
        async with client.get(f"{url}/prod/items/{i}") as resp:
            return str((await resp.json())["path"])

    paths = await asyncio.gather(*(one(i) for i in range(200)))
    assert paths == [f"/any/items/{i}" for i in range(200)]


async def test_backend_dying_mid_stream_truncates_without_second_response(
        env, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    url, client, _ = env
    with pytest.raises(aiohttp.ClientPayloadError):
        async with client.get(f"{url}/prod/cut") as resp:
            assert resp.status == 200  # the status line was already out
            await resp.read()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    async with client.get(f"{url}/prod/pets") as resp:  # the gateway carries on
        assert resp.status == 200
