"""HTTP (non-proxy) payloads on the paths the gateway takes without awaiting or decoding
twice: an encoded request body (read and decoded before the template), text that is not
UTF-8 either way (U+FFFD, never a 500 or a traceback), the query string and headers as
``$input.params`` reads them, the client's Content-Type against a mapped one, and the
target URI with and without mapped query parameters."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.gateway import run_gateway, serve_app, write_config


def backend_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        doc = {"path": request.raw_path, "body": body.decode("utf-8", "replace"),
               "headers": {k.lower(): v for k, v in request.headers.items()}}
        return web.Response(body=orjson.dumps(doc), content_type="application/json")

    async def latin1(request: web.Request) -> web.Response:
        return web.Response(body=b'{"name": "Andr\xe9"}', content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/latin1", latin1)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def _http(uri: str, **extra: Any) -> dict[str, Any]:
    params = extra.pop("parameters", None)
    integration = {"type": "http", "httpMethod": "POST",
                   "uri": "http://${stageVariables.backend}" + uri,
                   "responses": extra.pop("responses", {"default": {"statusCode": "200"}})}
    integration.update(extra)
    op = {"responses": {}, "x-amazon-apigateway-integration": integration}
    if params:
        op["parameters"] = params
    return op


API: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "payloads", "version": "1"},
    "paths": {
        "/read": {"post": _http("/echo", requestTemplates={"application/json": (
            '{"name": "$util.escapeJavaScript($input.path(\'$.name\'))", '
            '"body": "$util.escapeJavaScript($input.body)", '
            '"q": "$input.params(\'q\')", "h": "$input.params(\'x-h\')", '
            '"qs": "$input.params().querystring"}')})},
        "/pass": {"post": _http("/echo")},
        "/latin1": {"post": _http("/latin1", responses={"default": {
            "statusCode": "200", "responseTemplates": {
                "application/json": "$input.path('$.name')|$input.body"}}})},
        "/typed": {"post": _http("/echo", requestParameters={
            "integration.request.header.Content-Type": "'text/x-mapped'"})},
        "/target": {"post": _http("/echo/fixed?static=1", requestParameters={
            "integration.request.querystring.extra": "method.request.querystring.e"},
            parameters=[{"name": "e", "in": "query", "schema": {"type": "string"}}])},
    },
}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with serve_app(backend_app()) as backend:
        config = write_config(tmp_path, API, variables={"backend": backend[len("http://"):]})
        async with run_gateway(config) as gateway, aiohttp.ClientSession() as client:
            yield gateway.url + "/prod", client


async def _sent(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    assert resp.status == 200, await resp.text()
    doc: dict[str, Any] = orjson.loads(await resp.read())
    return doc


async def test_an_encoded_body_is_decoded_before_the_template(gw: Any) -> None:
    url, client = gw
    packed = gzip.compress(b'{"name": "Zo\xc3\xab"}')
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    async with client.post(f"{url}/read", data=packed, headers=headers) as resp:
        text = (await _sent(resp))["body"]
    assert '"name": "Zo\\u00EB"' in text  # escapeJavaScript's \uXXXX
    assert orjson.loads(text)["name"] == "Zo\u00eb"
    # without a template the backend gets the decoded body, without the coding
    async with client.post(f"{url}/pass", data=packed, headers=headers) as resp:
        sent = await _sent(resp)
    assert sent["body"] == "{\"name\": \"Zo\u00eb\"}"
    assert "content-encoding" not in sent["headers"]


async def test_request_text_that_is_not_utf8_reads_as_replacement(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/read", data=b'{"name": "a\xffb"}',
                           headers={"Content-Type": "application/json"}) as resp:
        rendered = orjson.loads((await _sent(resp))["body"])
    assert rendered["name"] == "a\ufffdb"
    assert rendered["body"] == '{"name": "a\ufffdb"}'


async def test_response_text_that_is_not_utf8_reads_as_replacement(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/latin1", data=b"{}",
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200
        assert await resp.text() == 'Andr\ufffd|{"name": "Andr\ufffd"}'


async def test_params_read_the_query_string_and_headers_last_value_first(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/read?q=1&q=2&z=a%20b", data=b'{"name": "n"}',
                           headers={"Content-Type": "application/json", "X-H": "hv"}) as resp:
        rendered = orjson.loads((await _sent(resp))["body"])
    assert (rendered["q"], rendered["h"]) == ("2", "hv")
    assert rendered["qs"] == "{q=2, z=a b}"
    async with client.post(f"{url}/read", data=b'{"name": "n"}',
                           headers={"Content-Type": "application/json"}) as resp:
        rendered = orjson.loads((await _sent(resp))["body"])
    assert (rendered["q"], rendered["qs"]) == ("", "{}")


async def test_a_mapped_content_type_replaces_the_clients(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/typed", data=b"x",
                           headers={"Content-Type": "text/plain"}) as resp:
        sent = await _sent(resp)
    assert sent["headers"]["content-type"] == "text/x-mapped"
    async with client.post(f"{url}/pass", data=b"x",
                           headers={"Content-Type": "text/plain"}) as resp:
        assert (await _sent(resp))["headers"]["content-type"] == "text/plain"


async def test_the_target_with_and_without_mapped_query_parameters(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/target", data=b"{}") as resp:
        assert (await _sent(resp))["path"] == "/echo/fixed?static=1"
    async with client.post(f"{url}/target?e=a%26b", data=b"{}") as resp:
        assert (await _sent(resp))["path"] == "/echo/fixed?static=1&extra=a%26b"
