"""AWS (non-proxy) Lambda integrations through the real gateway to real function processes
(issue 16, item 3): the rendered request template is the payload, a function error selects the
integration response by its errorMessage (LocalStack's AWS-validated
test_lambda_selection_patterns, reproduced), response templates over Lambda's answer and its
error document, a timeout as a function error, a missing function and a non-POST method as
500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from tests.support.gateway import run_gateway

APP = '''
import time

def echo(event, context):
    return event

def select(event, context):
    # LocalStack's lambda_select_pattern, as recorded against AWS
    code = int(event["statusCode"])
    if code == 400:
        raise Exception("Error: Raising four hundred from within the Lambda function")
    if code == 500:
        raise Exception("Error: Raising five hundred from within the Lambda function")
    return "Pass"

def slow(event, context):
    time.sleep(5)
    return "late"
'''

ARN = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
       "arn:aws:lambda:us-east-1:123456789012:function:{}/invocations")


def _aws(fn: str, **extra: Any) -> dict[str, Any]:
    integration = {"type": "aws", "httpMethod": extra.pop("httpMethod", "POST"),
                   "uri": ARN.format(fn),
                   "responses": extra.pop("responses", {"default": {"statusCode": "200"}})}
    integration.update(extra)
    return {"responses": {}, "x-amazon-apigateway-integration": integration}


API: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "lambda", "version": "1"},
    "x-amazon-apigateway-binary-media-types": ["image/png"],
    "paths": {
        # binary in, base64 through the function, binary out
        "/image": {"post": _aws(
            "echo", contentHandling="CONVERT_TO_TEXT",
            requestTemplates={"image/png": '{"b64": "$input.body"}'},
            responses={"default": {
                "statusCode": "200", "contentHandling": "CONVERT_TO_BINARY",
                "responseParameters": {"method.response.header.Content-Type": "'image/png'"},
                "responseTemplates": {"image/png": "$input.path('$.b64')"}}})},
        "/test": {"get": {
            **_aws("echo", requestTemplates={
                "application/json": '{"param1": "$input.params(\'param1\')"}'}),
            "parameters": [{"name": "param1", "in": "query", "schema": {"type": "string"}}]}},
        "/passthrough": {"post": _aws("echo"), "get": _aws("echo")},
        "/{statusCode}": {"get": {
            **_aws("select",
                   requestTemplates={
                       "application/json": '{"statusCode": "$input.params(\'statusCode\')"}'},
                   responses={
                       "default": {"statusCode": "200"},
                       ".*four hundred.*": {"statusCode": "405"},
                       ".+": {"statusCode": "502"},
                       "200": {"statusCode": "504"},
                   }),
            "parameters": [{"name": "statusCode", "in": "path", "required": True,
                            "schema": {"type": "string"}}]}},
        "/templated/{statusCode}": {"get": {
            **_aws("select",
                   requestTemplates={
                       "application/json": '{"statusCode": "$input.params(\'statusCode\')"}'},
                   responses={
                       "default": {"statusCode": "200", "responseTemplates": {
                           "application/json": '{"result": $input.json(\'$\')}'}},
                       ".*hundred.*": {"statusCode": "400", "responseTemplates": {
                           "application/json": (
                               '{"error": "$input.path(\'$.errorMessage\')", '
                               '"type": "$input.path(\'$.errorType\')"}')}},
                   }),
            "parameters": [{"name": "statusCode", "in": "path", "required": True,
                            "schema": {"type": "string"}}]}},
        "/slow": {"get": _aws("slow", responses={
            "default": {"statusCode": "200"},
            ".*Task timed out.*": {"statusCode": "504", "responseTemplates": {
                "application/json": '{"timeout": "$input.path(\'$.errorMessage\')"}'}}})},
        "/missing": {"get": _aws("${stageVariables.nofn}")},
        "/getmethod": {"get": _aws("echo", httpMethod="GET")},
    },
}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text(APP)
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(API))
    config = {
        "server": {"listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0"},
        "apis": [{"id": "lambdas", "definition": "api.yaml", "stages": {"dev": {}}}],
        "functions": {
            "echo": {"handler": "app.echo", "codeUri": "fn"},
            "select": {"handler": "app.select", "codeUri": "fn"},
            "slow": {"handler": "app.slow", "codeUri": "fn", "timeout": 1},
        },
    }
    path = tmp_path / "sluice.yaml"
    path.write_text(yaml.safe_dump(config))
    async with run_gateway(path) as gateway, aiohttp.ClientSession() as client:
        yield gateway.url + "/dev", client


async def test_the_request_template_is_the_payload(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/test?param1=foobar") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert orjson.loads(await resp.read()) == {"param1": "foobar"}
    # recorded: a Signature query parameter is nothing special
    async with client.get(f"{url}/test?param1=foobar&Signature=1") as resp:
        assert orjson.loads(await resp.read()) == {"param1": "foobar"}


async def test_passthrough_and_an_empty_payload(gw: Any) -> None:
    url, client = gw
    async with client.post(f"{url}/passthrough", data=b'{"a": [1, 2]}',
                           headers={"Content-Type": "application/json"}) as resp:
        assert orjson.loads(await resp.read()) == {"a": [1, 2]}
    async with client.get(f"{url}/passthrough") as resp:
        assert orjson.loads(await resp.read()) == {}


async def test_selection_on_the_error_message_as_aws_records(gw: Any) -> None:
    url, client = gw
    # success: the default; the pattern "200" (the status) is never matched for Lambda
    async with client.get(f"{url}/200") as resp:
        assert resp.status == 200
        assert orjson.loads(await resp.read()) == "Pass"
    async with client.get(f"{url}/400") as resp:
        assert resp.status == 405
        doc = orjson.loads(await resp.read())
        assert doc["errorMessage"] == "Error: Raising four hundred from within the Lambda function"
        assert doc["errorType"] == "Exception"
    async with client.get(f"{url}/500") as resp:
        assert resp.status == 502
        assert orjson.loads(await resp.read())["errorMessage"].endswith(
            "five hundred from within the Lambda function")


async def test_templates_over_the_result_and_the_error(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/templated/200") as resp:
        assert resp.status == 200
        assert orjson.loads(await resp.read()) == {"result": "Pass"}
    async with client.get(f"{url}/templated/400") as resp:
        assert resp.status == 400
        assert orjson.loads(await resp.read()) == {
            "error": "Error: Raising four hundred from within the Lambda function",
            "type": "Exception"}


async def test_a_timeout_is_a_function_error(gw: Any) -> None:
    url, client = gw
    async with client.get(f"{url}/slow") as resp:
        assert resp.status == 504
        message = orjson.loads(await resp.read())["timeout"]
        assert message.startswith("RequestId: ")
        assert message.endswith(" Error: Task timed out after 1.00 seconds")


async def test_no_function_and_a_get_integration_method_answer_500(gw: Any) -> None:
    url, client = gw
    for path in ("/missing", "/getmethod"):
        async with client.get(f"{url}{path}") as resp:
            assert resp.status == 500, path
            assert await resp.read() == b'{"message": "Internal server error"}'


async def test_a_binary_round_trip_through_a_function(gw: Any) -> None:
    url, client = gw
    png = bytes(range(256)) * 4
    async with client.post(f"{url}/image", data=png,
                           headers={"Content-Type": "image/png", "Accept": "image/png"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/png"
        assert await resp.read() == png
