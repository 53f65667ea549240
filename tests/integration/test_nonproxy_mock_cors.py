"""MOCK with full templates (issue 16, item 4) and CORS as REST APIs do it (item 8), through the
real gateway: the status from a rendered request template, AWS's lenient statusCode, the
recorded override behaviours (LocalStack's AWS-validated test_integration_mock_with_*), and a
browser's exact preflight and actual requests against OPTIONS MOCK methods and
DEFAULT_4XX/DEFAULT_5XX gateway responses with Access-Control-* headers."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.gateway import run_gateway, serve_app, write_config


def _mock(request_template: str | None, responses: dict[str, Any],
          **extra: Any) -> dict[str, Any]:
    integration: dict[str, Any] = {"type": "mock", "responses": responses, **extra}
    if request_template is not None:
        integration["requestTemplates"] = {"application/json": request_template}
    return {"responses": {}, "x-amazon-apigateway-integration": integration}


CORS_HEADERS = {
    "method.response.header.Access-Control-Allow-Headers":
        "'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token'",
    "method.response.header.Access-Control-Allow-Methods": "'GET,POST,OPTIONS'",
    "method.response.header.Access-Control-Allow-Origin": "'*'",
}

API: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "mock-cors", "version": "1"},
    "paths": {
        "/choose": {"get": _mock(
            "#if($input.params('fail') == 'yes'){\"statusCode\": 503}"
            "#else{\"statusCode\": 200}#end",
            {"default": {"statusCode": "200", "responseTemplates": {
                "application/json": '{"ok": true, "stage": "$context.stage"}'}},
             "5\\d{2}": {"statusCode": "503", "responseTemplates": {
                 "application/json": '{"ok": false}'}}})},
        "/cdk": {"get": _mock("{statusCode: 200}", {"default": {"statusCode": "204"}})},
        "/stringcode": {"get": _mock('{"statusCode": "200"}', {"default": {"statusCode": "200"}})},
        "/passthrough": {"post": _mock(None, {"default": {"statusCode": "200"}})},
        # LocalStack test_integration_mock_with_request_overrides_in_response_template
        "/override/{testPath}": {"get": {
            **_mock(
                "#set($body = $util.base64Decode($input.params('testPath')))\n"
                "#set($context.requestOverride.path.body = $body)\n"
                '{\n  "statusCode": 200\n}\n',
                {"2\\d{2}": {"statusCode": "200", "responseTemplates": {"application/json": (
                    "#set($body = $util.parseJson($context.requestOverride.path.body))\n"
                    "#set($inputBody = $body.message)\n"
                    '#if($inputBody == "path1")\n{\n   "response": "path was path one"\n}\n'
                    '#elseif($inputBody == "path2")\n{\n   "response": "path was path two"\n}\n'
                    '#else\n{\n  "response": "this is the else clause"\n}\n#end\n')}}}),
            "parameters": [{"name": "testPath", "in": "path", "required": True,
                            "schema": {"type": "string"}}]}},
        # LocalStack test_integration_mock_with_response_override_in_request_template
        "/status-override": {"get": _mock(
            "#set($context.responseOverride.status = 444)\n"
            '#set($context.responseOverride.header.foo = "bar")\n'
            '#set($context.responseOverride.custom = "is also passed around")\n'
            '{\n  "statusCode": 200\n}\n',
            {"2\\d{2}": {"statusCode": "200", "responseTemplates": {"application/json": (
                "#set($statusOverride = $context.responseOverride.status)\n"
                "#set($fooHeader = $context.responseOverride.header.foo)\n"
                "#set($custom = $context.responseOverride.custom)\n"
                '{\n    "statusOverride": "$statusOverride",\n'
                '    "fooHeader": "$fooHeader",\n    "custom": "$custom"\n}\n')}}})},
        "/status-override-bare": {"get": _mock(
            "#set($context.responseOverride.status = 444)\n"
            '#set($context.responseOverride.header.foo = "bar")\n{"statusCode": 200}',
            {"2\\d{2}": {"statusCode": "200"}})},
        # LocalStack test_integration_mock_with_vtl_map_assignation
        "/map-assign": {"get": _mock(
            '#set($paramName = "foo")\n'
            '#set($context.requestOverride.querystring[$paramName] = "bar")\n'
            '#set($paramPutName = "putfoo")\n'
            '$context.requestOverride.querystring.put($paramPutName, "putBar")\n'
            '#set($context["requestOverride"].querystring["nestedfoo"] = "nestedFoo")\n'
            '{\n  "statusCode": 200\n}\n',
            {"2\\d{2}": {"statusCode": "200", "responseTemplates": {"application/json": (
                '#set($value = $context.requestOverride.querystring["foo"])\n'
                '#set($value2 = $context.requestOverride.querystring["putfoo"])\n'
                '#set($value3 = $context.requestOverride.querystring["nestedfoo"])\n'
                '{\n    "value": "$value",\n    "value2": "$value2",\n'
                '    "value3": "$value3"\n}\n')}}})},
        # CORS, as the console builds it
        "/pets": {
            "options": _mock('{"statusCode": 200}', {"default": {
                "statusCode": "200", "responseParameters": CORS_HEADERS,
                "responseTemplates": {"application/json": ""}}}),
            "post": {
                "security": [{"api_key": []}],
                "responses": {},
                "x-amazon-apigateway-integration": {
                    "type": "http_proxy", "httpMethod": "POST",
                    "uri": "http://${stageVariables.backend}/pets"}},
        },
        "/broken": {"get": _mock('{"statusCode": 200}', {"4\\d{2}": {"statusCode": "400"}})},
    },
    "components": {"securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key",
                                                   "in": "header"}}},
    "x-amazon-apigateway-gateway-responses": {
        "DEFAULT_4XX": {"responseParameters": {
            "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
            "gatewayresponse.header.Access-Control-Allow-Headers": "'Content-Type,X-Api-Key'",
            "gatewayresponse.header.Vary": "'Origin'"}},
        "DEFAULT_5XX": {"responseParameters": {
            "gatewayresponse.header.Access-Control-Allow-Origin": "'*'"}},
    },
}

ORIGIN = "http://localhost:3000"
BROWSER = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Accept-Language": "en-US,en;q=0.9",
    "Origin": ORIGIN,
    "Referer": f"{ORIGIN}/",
    "Sec-Fetch-Dest": "empty",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Site": "cross-site",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36",
}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async def pets(request: web.Request) -> web.Response:
        return web.json_response({"created": await request.json()}, status=201,
                                 headers={"Access-Control-Allow-Origin": ORIGIN})

    app = web.Application()
    app.router.add_post("/pets", pets)
    async with serve_app(app) as backend:
        config = write_config(
            tmp_path, API, variables={"backend": backend[len("http://"):]},
            extra={"usagePlans": [{"id": "p", "apiStages": [{"apiId": "petstore",
                                                             "stage": "prod"}],
                                   "apiKeys": ["k"]}],
                   "apiKeys": [{"id": "k", "value": "key-0123456789abcdefghij"}]})
        async with run_gateway(config) as gateway, aiohttp.ClientSession(
                auto_decompress=False, skip_auto_headers=["User-Agent", "Accept-Encoding"]
        ) as client:
            yield gateway.url + "/prod", client


async def test_status_from_the_rendered_template(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/choose") as resp:
        assert resp.status == 200
        assert orjson.loads(await resp.read()) == {"ok": True, "stage": "prod"}
    async with client.get(f"{url}/choose?fail=yes") as resp:
        assert resp.status == 503
        assert orjson.loads(await resp.read()) == {"ok": False}


async def test_lenient_and_bad_status_codes(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/cdk") as resp:  # CDK's {statusCode: 200}: accepted
        assert resp.status == 204
    async with client.get(f"{url}/stringcode") as resp:  # a string is not a status
        assert resp.status == 500
        assert await resp.read() == b'{"message": "Internal server error"}'
    # no template: the body passes through and is read for its statusCode
    async with client.post(f"{url}/passthrough", data=b'{"statusCode": 200}',
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200
        assert await resp.read() == b""
        assert resp.headers["Content-Type"] == "application/json"
    async with client.post(f"{url}/passthrough", data=b"{}",
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 500
    async with client.get(f"{url}/broken") as resp:  # 200 selects nothing, no default
        assert resp.status == 500
        assert resp.headers["Access-Control-Allow-Origin"] == "*"  # DEFAULT_5XX


async def test_request_overrides_read_by_the_response_template(gw: Any) -> None:
    url, client = gw
    expected = {"path1": "path was path one", "path2": "path was path two",
                "whatever": "this is the else clause"}
    for message, response in expected.items():
        path = base64.b64encode(json.dumps({"message": message}).encode()).decode()
        async with client.get(f"{url}/override/{path}") as resp:
            assert resp.status == 200
            assert orjson.loads(await resp.read()) == {"response": response}


async def test_response_override_in_the_request_template(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/status-override") as resp:
        assert resp.status == 444
        assert resp.headers["foo"] == "bar"
        assert orjson.loads(await resp.read()) == {
            "statusOverride": "444", "fooHeader": "bar", "custom": "is also passed around"}
    async with client.get(f"{url}/status-override-bare") as resp:
        assert resp.status == 444
        assert resp.headers["foo"] == "bar"
        assert await resp.read() == b""


async def test_vtl_map_assignation_on_overrides(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/map-assign") as resp:
        assert orjson.loads(await resp.read()) == {
            "value": "bar", "value2": "putBar", "value3": "nestedFoo"}


async def test_browser_preflight(gw: Any) -> None:
    url, client = gw
    headers = {**BROWSER, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type,x-api-key"}
    async with client.options(f"{url}/pets", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert resp.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
        assert resp.headers["Access-Control-Allow-Headers"] == (
            "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token")
        assert resp.headers["Content-Type"] == "application/json"
        assert await resp.read() == b""
        # what the browser checks: the requested method and headers are allowed
        allowed = {h.strip().lower() for h in
                   resp.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"content-type", "x-api-key"} <= allowed
        assert "POST" in resp.headers["Access-Control-Allow-Methods"].split(",")


async def test_browser_actual_request_and_its_errors(gw: Any) -> None:
    url, client = gw
    actual = {**BROWSER, "Content-Type": "application/json",
              "x-api-key": "key-0123456789abcdefghij"}
    async with client.post(f"{url}/pets", data=b'{"name": "rex"}', headers=actual) as resp:
        assert resp.status == 201
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN  # from the backend
    # a gateway error a browser must still be allowed to read: DEFAULT_4XX's headers
    missing_key = {k: v for k, v in actual.items() if k != "x-api-key"}
    async with client.post(f"{url}/pets", data=b"{}", headers=missing_key) as resp:
        assert resp.status == 403
        assert await resp.read() == b'{"message":"Forbidden"}'
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert resp.headers["Vary"] == "Origin"
        assert resp.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key"
    async with client.get(f"{url}/nowhere", headers=BROWSER) as resp:
        assert resp.status == 403
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
