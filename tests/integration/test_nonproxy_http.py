"""HTTP (non-proxy) integrations through the real gateway to a real backend (issue 16, item 2):
request templates by Content-Type and passthroughBehavior (415), the headers AWS sets for the
backend and the client headers it does not pass, parameter mappings (body JSONPath included),
request and response overrides, reserved headers (500), integration response selection by the
backend status, response parameters and x-amzn-Remapped-*, response templates by Accept, the
VTL quirks AWS records (Java map rendering, $input.path on an empty body, the parse error),
and binary payloads with contentHandling."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from bench.micro.vtl_reference import (
    REQUEST_BODY,
    REQUEST_TEMPLATE,
    RESPONSE_BODY,
    RESPONSE_TEMPLATE,
)
from tests.support.gateway import run_gateway, serve_app, write_config

PNG = bytes(range(256))


def backend_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        status = int(request.query.get("status", "200"))
        doc = {"method": request.method, "path": request.raw_path,
               "query": [[k, v] for k, v in request.query.items()],
               "headers": [[k, v] for k, v in request.headers.items()],
               "body": body.decode("utf-8", "replace"),
               "body_b64": base64.b64encode(body).decode()}
        return web.Response(status=status, body=orjson.dumps(doc),
                            headers={"Content-Type": "application/json", "X-Backend": "b1",
                                     "X-Multi": "m1", "Server": "backend/1.0",
                                     "Access-Control-Allow-Origin": "*"})

    async def results(request: web.Request) -> web.Response:
        return web.Response(body=RESPONSE_BODY.encode(), content_type="application/json")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain words", content_type="text/plain")

    async def b64text(request: web.Request) -> web.Response:
        return web.Response(text=base64.b64encode(PNG).decode(), content_type="text/plain")

    async def b64json(request: web.Request) -> web.Response:
        return web.json_response({"body": base64.b64encode(PNG).decode()})

    app = web.Application()
    app.router.add_route("*", "/results", results)
    app.router.add_route("*", "/image", image)
    app.router.add_route("*", "/text", text)
    app.router.add_route("*", "/b64text", b64text)
    app.router.add_route("*", "/b64json", b64json)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def _http(uri: str, **extra: Any) -> dict[str, Any]:
    integration = {"type": "http", "httpMethod": extra.pop("httpMethod", "POST"),
                   "uri": "http://${stageVariables.backend}" + uri,
                   "responses": extra.pop("responses", {"default": {"statusCode": "200"}})}
    integration.update(extra)
    return integration


def _op(integration: dict[str, Any], params: list[dict[str, Any]] | None = None
        ) -> dict[str, Any]:
    op: dict[str, Any] = {"responses": {}, "x-amazon-apigateway-integration": integration}
    if params:
        op["parameters"] = params
    return op


H = {"in": "header", "schema": {"type": "string"}}
Q = {"in": "query", "schema": {"type": "string"}}

API: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "nonproxy", "version": "1"},
    "x-amazon-apigateway-binary-media-types": ["image/png", "application/octet-stream"],
    "paths": {
        "/orders": {"post": _op(_http(
            "/results",
            requestTemplates={"application/json": REQUEST_TEMPLATE},
            responses={"default": {"statusCode": "200",
                                   "responseTemplates": {"application/json": RESPONSE_TEMPLATE}}},
        ))},
        "/echo": {"post": _op(_http(
            "/echo/fixed?static=1",
            requestTemplates={
                "application/json": '{"got": $input.json(\'$\'), "ua": "$input.params(\'User-Agent\')"}',
                "application/xml": "<xml>$input.body</xml>",
            },
        ))},
        "/never": {"post": _op(_http("/echo", passthroughBehavior="never",
                                      requestTemplates={"application/json": "{}"}))},
        "/notemplates": {"post": _op(_http("/echo", passthroughBehavior="when_no_templates",
                                            requestTemplates={"application/json": "{}"}))},
        "/passthrough": {"post": _op(_http("/echo"))},
        "/nevernone": {"post": _op(_http("/echo", passthroughBehavior="never"))},
        "/mapped/{id}": {"post": _op(_http(
            "/items/{itemId}",
            requestParameters={
                "integration.request.path.itemId": "method.request.path.id",
                "integration.request.querystring.q": "method.request.querystring.search",
                "integration.request.querystring.lit": "'fixed value'",
                "integration.request.header.X-Customer": "method.request.body.customer.name",
                "integration.request.header.X-Whole": "method.request.body",
                "integration.request.header.X-Stage": "stageVariables.color",
                "integration.request.header.X-Req": "context.requestId",
                "integration.request.header.X-Tenant": "method.request.header.x-tenant",
                "integration.request.header.Accept": "'text/html'",
                "integration.request.header.Via": "'proxy.example'",
                "integration.request.header.TE": "'gzip'",
            },
        ), [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "search", **Q}, {"name": "x-tenant", **H}])},
        "/override/{id}": {"post": _op(_http(
            "/items/{itemId}",
            requestParameters={"integration.request.path.itemId": "method.request.path.id",
                               "integration.request.header.X-Mapped": "'mapped'"},
            requestTemplates={"application/json": (
                "#set($context.requestOverride.header.X-Mapped = 'overridden')"
                "#set($context.requestOverride.header.X-New = 'new')"
                "#set($context.requestOverride.path.itemId = 'other')"
                "#set($context.requestOverride.querystring.page = '2')"
                "#set($context.responseOverride.header.X-Resp = 'from request template')"
                "{}")},
            responses={"default": {"statusCode": "200", "responseTemplates": {
                "application/json": (
                    "#set($context.responseOverride.status = 201)"
                    "#set($context.responseOverride.header.X-Backend = 'overridden')"
                    '{"seen": "$context.requestOverride.header.X-New"}')},
                "responseParameters": {
                    "method.response.header.X-Backend": "integration.response.header.X-Backend"}}},
        ), [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}])},
        "/reserved": {"post": _op(_http(
            "/echo", requestParameters={"integration.request.header.Content-Length": "'0'"}))},
        "/reserved-override": {"post": _op(_http("/echo", requestTemplates={
            "application/json": "#set($context.requestOverride.header.Transfer-Encoding = 'x'){}"}))},
        "/status": {"get": _op(_http(
            "/echo", httpMethod="GET",
            requestParameters={"integration.request.querystring.status":
                               "method.request.querystring.want"},
            responses={
                "default": {"statusCode": "200"},
                "4\\d{2}": {"statusCode": "400", "responseTemplates": {
                    "application/json": '{"client error": $input.json(\'$.method\')}'}},
                "5\\d{2}": {"statusCode": "502"},
                "2": {"statusCode": "299"},
            }), [{"name": "want", **Q}])},
        "/nodefault": {"get": _op(_http(
            "/echo", httpMethod="GET",
            requestParameters={"integration.request.querystring.status":
                               "method.request.querystring.want"},
            responses={"2\\d{2}": {"statusCode": "200"}}), [{"name": "want", **Q}])},
        "/headers": {"get": _op(_http(
            "/echo", httpMethod="GET",
            responses={"default": {"statusCode": "200", "responseParameters": {
                "method.response.header.X-From-Backend": "integration.response.header.x-backend",
                "method.response.header.X-Multi": "integration.response.multivalueheader.X-Multi",
                "method.response.header.X-Method": "integration.response.body.method",
                "method.response.header.X-Lit": "'literal'",
                "method.response.header.X-Ctx": "context.httpMethod",
                "method.response.header.X-Stage": "stageVariables.color",
                "method.response.header.Server": "integration.response.header.Server",
                "method.response.header.Date": "'Sun, 06 Nov 1994 08:49:37 GMT'",
                "method.response.header.User-Agent": "'agent'",
                "method.response.header.Content-Type": "'text/x-mapped'",
                "method.response.header.x-amzn-RequestId": "'not-the-gateways'",
            }}}))},
        "/accept": {"get": _op(_http(
            "/text", httpMethod="GET",
            responses={"default": {"statusCode": "200", "responseTemplates": {
                "text/html": "<p>$input.body</p>",
                "application/xml": "<r>$input.body</r>",
            }}}))},
        "/vtl": {"post": _op(_http("/echo", requestTemplates={"application/json": (
            "#set($o = $input.path('$.obj'))"
            "map=$o|list=$input.path('$.list')|missing=$input.path('$.nope')|"
            "empty=$input.path('$')|body=$input.body")}))},
        "/upload": {"post": _op(_http(
            "/echo", contentHandling="CONVERT_TO_TEXT",
            requestTemplates={"image/png": '{"b64": "$input.body"}'}))},
        "/upload-raw": {"post": _op(_http("/echo"))},
        "/b64": {"post": _op(_http(
            "/echo", contentHandling="CONVERT_TO_BINARY"))},
        "/image": {"get": _op(_http("/image", httpMethod="GET"))},
        "/image-text": {"get": _op(_http(
            "/image", httpMethod="GET",
            responses={"default": {"statusCode": "200", "contentHandling": "CONVERT_TO_TEXT",
                                   "responseTemplates": {
                                       "application/json": '{"png": "$input.body"}'}}}))},
        "/image-back": {"get": _op(_http(
            "/image", httpMethod="GET",
            responses={"default": {"statusCode": "200", "responseParameters": {
                "method.response.header.Content-Type": "'image/png'"}}}))},
        "/to-binary": {"get": _op(_http(
            "/b64text", httpMethod="GET",
            responses={"default": {"statusCode": "200", "contentHandling": "CONVERT_TO_BINARY",
                                   "responseParameters": {
                                       "method.response.header.Content-Type": "'image/png'"}}}))},
        "/to-binary-templated": {"get": _op(_http(
            "/b64json", httpMethod="GET",
            responses={"default": {"statusCode": "200", "contentHandling": "CONVERT_TO_BINARY",
                                   "responseTemplates": {"image/png": "$input.path('$.body')"}}}))},
        "/upload-templated": {"post": _op(_http(
            "/echo", contentHandling="CONVERT_TO_BINARY",
            requestTemplates={"application/json": "$input.path('$.data')"}))},
        "/to-binary-bad": {"get": _op(_http(
            "/text", httpMethod="GET",
            responses={"default": {"statusCode": "200",
                                   "contentHandling": "CONVERT_TO_BINARY"}}))},
        "/any": {"x-amazon-apigateway-any-method": _op(_http("/echo", httpMethod="ANY"))},
    },
}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with serve_app(backend_app()) as backend:
        config = write_config(tmp_path, API, variables={"backend": backend[len("http://"):],
                                                        "color": "green"})
        async with run_gateway(config) as gateway, aiohttp.ClientSession() as client:
            yield gateway.url + "/prod", client


async def _json(resp: aiohttp.ClientResponse) -> Any:
    return orjson.loads(await resp.read())


def _headers(doc: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in doc["headers"]}


async def test_reference_templates_render_the_backend_exchange(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/orders", data=REQUEST_BODY,
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        doc = await _json(resp)
    assert doc["count"] == 10
    assert doc["results"][1] == {"id": "1", "name": 'Result "1"', "status": "active"}
    assert doc["results"][0]["status"] == "inactive"


async def test_template_by_content_type_and_what_the_backend_gets(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/echo", data=b'{"a": {"b": 1}}',
                           headers={"Content-Type": "application/json; charset=utf-8",
                                    "User-Agent": "browser/1", "X-Secret": "not forwarded",
                                    "Accept": "text/html", "Authorization": "Bearer t"}) as resp:
        assert resp.status == 200
        doc = await _json(resp)
    assert doc["method"] == "POST"
    assert doc["path"] == "/echo/fixed?static=1"  # no client query string
    assert orjson.loads(doc["body"]) == {"got": {"a": {"b": 1}}, "ua": "browser/1"}
    sent = _headers(doc)
    # only what API Gateway sets (recorded for HTTP), never the client's own headers
    assert set(sent) == {"host", "accept", "user-agent", "content-type", "content-length",
                         "x-amzn-trace-id", "x-amzn-apigateway-api-id", "x-forwarded-for",
                         "x-forwarded-port", "x-forwarded-proto"}
    assert sent["accept"] == "application/json"
    assert sent["user-agent"] == "AmazonAPIGateway_petstore"
    assert sent["content-type"] == "application/json; charset=utf-8"
    assert sent["x-amzn-apigateway-api-id"] == "petstore"
    assert sent["x-amzn-trace-id"].startswith("Root=1-")
    async with client.post(f"{url}/echo", data=b"<a/>",
                           headers={"Content-Type": "application/xml"}) as resp:
        assert orjson.loads(await resp.read())["body"] == "<xml><a/></xml>"


async def test_missing_content_type_is_json(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/echo", data=b'{"x": 1}',
                           skip_auto_headers=["Content-Type"]) as resp:
        assert resp.status == 200
        assert orjson.loads((await _json(resp))["body"])["got"] == {"x": 1}


async def test_passthrough_behaviors(gw: Any) -> None:
    url, client = gw
    text = {"Content-Type": "text/plain"}
    # WHEN_NO_MATCH (the default): the body passes unchanged
    async with client.post(f"{url}/echo", data=b"raw words", headers=text) as resp:
        assert (await _json(resp))["body"] == "raw words"
    for path in ("/never", "/notemplates", "/nevernone"):
        async with client.post(f"{url}{path}", data=b"raw", headers=text) as resp:
            assert resp.status == 415, path
            assert await resp.read() == b'{"message":"Unsupported Media Type"}'
            assert resp.headers["x-amzn-ErrorType"] == "UnsupportedMediaTypeException"
    # WHEN_NO_TEMPLATES with no template at all passes through; NEVER refuses even then
    async with client.post(f"{url}/passthrough", data=b"raw", headers=text) as resp:
        assert (await _json(resp))["body"] == "raw"
    async with client.post(f"{url}/never", data=b"{}",
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200


async def test_parameter_mappings(gw: Any) -> None:
    url, client = gw
    body = b'{"customer": {"name": "Zoe"}, "n": 1}'
    async with client.post(f"{url}/mapped/42?search=a%20b&other=1", data=body,
                           headers={"Content-Type": "application/json",
                                    "X-Tenant": "t1"}) as resp:
        assert resp.status == 200
        rid = resp.headers["x-amzn-RequestId"]
        doc = await _json(resp)
    assert doc["path"].startswith("/items/42?")
    assert sorted(doc["query"]) == [["lit", "fixed value"], ["q", "a b"]]
    sent = _headers(doc)
    assert sent["x-customer"] == "Zoe"
    assert orjson.loads(sent["x-whole"]) == orjson.loads(body)
    assert sent["x-stage"] == "green"
    assert sent["x-req"] == rid
    assert sent["x-tenant"] == "t1"
    assert sent["accept"] == "text/html"  # a mapped Accept replaces the default
    assert "via" not in sent and "te" not in sent  # mapped, and dropped as AWS drops them


async def test_request_and_response_overrides(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/override/7", data=b"{}",
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 201  # responseOverride.status
        assert resp.headers["X-Backend"] == "overridden"  # over the mapped value
        assert resp.headers["X-Resp"] == "from request template"  # carried from the request
        assert await _json(resp) == {"seen": "new"}


async def test_request_override_reaches_the_backend(tmp_path: Path) -> None:
    seen: list[Any] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((request.raw_path, dict(request.headers)))
        return web.Response(text="{}", content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with serve_app(app) as backend:
        config = write_config(tmp_path, API, variables={"backend": backend[len("http://"):]})
        async with run_gateway(config) as gateway, aiohttp.ClientSession() as client, \
                client.post(f"{gateway.url}/prod/override/7", data=b"{}",
                            headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 201
    path, headers = seen[0]
    assert path == "/items/other?page=2"
    assert headers["X-Mapped"] == "overridden"
    assert headers["X-New"] == "new"


async def test_reserved_headers_answer_500(gw: Any) -> None:
    url, client = gw
    for path in ("/reserved", "/reserved-override"):
        async with client.post(f"{url}{path}", data=b"{}",
                               headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 500, path
            assert await resp.read() == b'{"message": "Internal server error"}'
            assert resp.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


async def test_selection_by_backend_status(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/status?want=200") as resp:
        assert resp.status == 200
    # the backend's 404 selects "4\d{2}" -> 400 with its template
    async with client.get(f"{url}/status?want=404") as resp:
        assert resp.status == 400
        assert await _json(resp) == {"client error": "GET"}
    async with client.get(f"{url}/status?want=503") as resp:
        assert resp.status == 502
    # "2" matches the whole status only: 201 takes the default
    async with client.get(f"{url}/status?want=201") as resp:
        assert resp.status == 200
    # no match and no default: AWS's 500
    async with client.get(f"{url}/nodefault?want=404") as resp:
        assert resp.status == 500
        assert await resp.read() == b'{"message": "Internal server error"}'
    async with client.get(f"{url}/nodefault?want=204") as resp:
        assert resp.status == 200


async def test_response_parameters_and_remapped_headers(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/headers") as resp:
        assert resp.status == 200
        h = resp.headers
        assert h["X-From-Backend"] == "b1"
        assert h["X-Multi"] == "m1"
        assert h["X-Method"] == "GET"
        assert h["X-Lit"] == "literal"
        assert h["X-Ctx"] == "GET"
        assert h["X-Stage"] == "green"
        assert h["Content-Type"] == "text/x-mapped"
        # names AWS reserves come back renamed (recorded for HTTP)
        assert h["x-amzn-Remapped-Server"] == "backend/1.0"
        assert h["x-amzn-Remapped-Date"] == "Sun, 06 Nov 1994 08:49:37 GMT"
        assert h["x-amzn-Remapped-User-Agent"] == "agent"
        assert "Server" not in h
        # the backend's own headers do not pass
        assert "X-Backend" not in h and "Access-Control-Allow-Origin" not in h
        # the gateway's own ids win over a mapping of the same name
        assert h.getall("x-amzn-RequestId") != ["not-the-gateways"]
        assert len(h.getall("x-amzn-RequestId")) == 1


async def test_response_template_by_accept(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/accept", headers={"Accept": "text/html,*/*"}) as resp:
        assert resp.headers["Content-Type"] == "text/html"
        assert await resp.read() == b"<p>plain words</p>"
    async with client.get(f"{url}/accept", headers={"Accept": "application/xml"}) as resp:
        assert resp.headers["Content-Type"] == "application/xml"
        assert await resp.read() == b"<r>plain words</r>"
    # no match and no application/json template: the first one (the definition is written
    # with its keys sorted)
    async with client.get(f"{url}/accept", headers={"Accept": "image/gif"}) as resp:
        assert await resp.read() == b"<r>plain words</r>"
    # no template: the body passes, labelled application/json whatever the backend said
    async with client.get(f"{url}/status") as resp:
        assert resp.headers["Content-Type"] == "application/json"


async def test_vtl_quirks_aws_records(gw: Any) -> None:
    url, client = gw
    body = b'{"obj": {"a": 1, "b": "x", "c": [1, 2]}, "list": [{"k": "v"}]}'
    async with client.post(f"{url}/vtl", data=body,
                           headers={"Content-Type": "application/json"}) as resp:
        sent = (await _json(resp))["body"].split("|")
    assert sent[0] == "map={a=1, b=x, c=[1,2]}"  # a JSON object prints the Java way
    assert sent[1] == 'list=[{"k":"v"}]'  # a list prints as JSON
    assert sent[2] == "missing="  # null prints as nothing
    # an empty body reads as {}: $input.path('$') is an empty map, $input.body "{}"
    async with client.post(f"{url}/vtl", data=b"",
                           headers={"Content-Type": "application/json"}) as resp:
        sent = (await _json(resp))["body"].split("|")
    assert sent == ["map=", "list=", "missing=", "empty={}", "body={}"]
    # a body a template reads as JSON but is not: AWS's 400
    async with client.post(f"{url}/vtl", data=b"a=1&b=2",
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert resp.headers["x-amzn-ErrorType"] == "BadRequestException"
        assert (await resp.read()).startswith(
            b'{"message": "Could not parse request body into json: Unexpected character '
            b"('a' (code 97))")


async def test_binary_request_round_trips(gw: Any) -> None:
    url, client = gw
    # binary in (image/png is a binary media type), CONVERT_TO_TEXT: base64 in the template
    async with client.post(f"{url}/upload", data=PNG,
                           headers={"Content-Type": "image/png"}) as resp:
        sent = orjson.loads((await _json(resp))["body"])
    assert base64.b64decode(sent["b64"]) == PNG
    # binary passed through unchanged
    async with client.post(f"{url}/upload-raw", data=PNG,
                           headers={"Content-Type": "image/png"}) as resp:
        assert base64.b64decode((await _json(resp))["body_b64"]) == PNG
    # text in, CONVERT_TO_BINARY: the base64 text is decoded for the backend
    async with client.post(f"{url}/b64", data=base64.b64encode(PNG),
                           headers={"Content-Type": "text/plain"}) as resp:
        assert base64.b64decode((await _json(resp))["body_b64"]) == PNG
    # a template's base64 output decoded for the backend (CONVERT_TO_BINARY after the template)
    async with client.post(f"{url}/upload-templated",
                           json={"data": base64.b64encode(PNG).decode()}) as resp:
        assert base64.b64decode((await _json(resp))["body_b64"]) == PNG
    # not base64: 500, as the DG says a failed conversion answers
    async with client.post(f"{url}/b64", data=b"not base64!",
                           headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 500


async def test_binary_response_round_trips(gw: Any) -> None:
    url, client = gw
    # a binary payload to a client that accepts it: the bytes, unchanged
    async with client.get(f"{url}/image-back", headers={"Accept": "image/png"}) as resp:
        assert resp.headers["Content-Type"] == "image/png"
        assert await resp.read() == PNG
    # to a client that does not: base64 text (the DG's passthrough row)
    async with client.get(f"{url}/image", headers={"Accept": "application/json"}) as resp:
        assert base64.b64decode(await resp.read()) == PNG
    # CONVERT_TO_TEXT: base64 in the response template
    async with client.get(f"{url}/image-text", headers={"Accept": "image/png"}) as resp:
        assert base64.b64decode((await _json(resp))["png"]) == PNG
    # CONVERT_TO_BINARY: the backend's base64 text reaches the client as bytes
    async with client.get(f"{url}/to-binary") as resp:
        assert resp.headers["Content-Type"] == "image/png"
        assert await resp.read() == PNG
    # the template picks the base64 text out of JSON, then it is decoded (decode after)
    async with client.get(f"{url}/to-binary-templated", headers={"Accept": "image/png"}) \
            as resp:
        assert resp.headers["Content-Type"] == "image/png"
        assert await resp.read() == PNG
    async with client.get(f"{url}/to-binary-bad") as resp:
        assert resp.status == 500  # "plain words" is not base64
        assert await resp.read() == b'{"message": "Internal server error"}'


async def test_any_method_uses_the_clients(gw: Any) -> None:
    url, client = gw
    async with client.put(f"{url}/any", data=b"x", headers={"Content-Type": "text/plain"}) \
            as resp:
        assert (await _json(resp))["method"] == "PUT"
    async with client.get(f"{url}/any") as resp:
        doc = await _json(resp)
        assert doc["method"] == "GET"
        assert "content-type" not in _headers(doc)
