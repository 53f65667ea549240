"""Request validation as a phase of the real gateway (issue 16, item 5): validators from the
definition (API default and per method), required parameters in AWS's message order, body
models by Content-Type with $ref resolved at load, $context.error.validationErrorString in a
gateway response template, the place in AWS's order (after the API key, before the cache and
the integration), and compressed bodies validated decoded."""

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

PET = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "type": {"type": "string", "enum": ["dog", "cat", "fish"]},
        "price": {"type": "number", "minimum": 25, "maximum": 500},
        "owner": {"$ref": "#/components/schemas/Owner"},
    },
    "required": ["type", "name", "price"],
}
OWNER = {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]}


def _proxy(uri: str, method: str = "POST") -> dict[str, Any]:
    return {"type": "http_proxy", "httpMethod": method,
            "uri": "http://${stageVariables.backend}" + uri}


API: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "validated", "version": "1"},
    "x-amazon-apigateway-request-validators": {
        "all": {"validateRequestBody": True, "validateRequestParameters": True},
        "params-only": {"validateRequestParameters": True},
    },
    "x-amazon-apigateway-request-validator": "all",
    "paths": {
        "/pets/{petId}": {"post": {
            "parameters": [
                {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "qs1", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "x-header-param", "in": "header", "required": True,
                 "schema": {"type": "string"}},
                {"name": "issuer", "in": "query", "required": True,
                 "schema": {"type": "string"}},
                {"name": "optional", "in": "query", "schema": {"type": "string"}},
            ],
            "requestBody": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
            "responses": {},
            "x-amazon-apigateway-integration": _proxy("/pets"),
        }},
        "/loose": {"post": {
            "x-amazon-apigateway-request-validator": "params-only",
            "parameters": [{"name": "q", "in": "query", "required": True,
                            "schema": {"type": "string"}}],
            "requestBody": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
            "responses": {},
            "x-amazon-apigateway-integration": _proxy("/pets"),
        }},
        "/keyed": {"post": {
            "security": [{"api_key": []}],
            "requestBody": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
            "responses": {},
            "x-amazon-apigateway-integration": _proxy("/pets"),
        }},
        "/cached": {"get": {
            "parameters": [{"name": "q", "in": "query", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {},
            "x-amazon-apigateway-integration": _proxy("/pets", "GET"),
        }},
    },
    "components": {
        "schemas": {"Pet": PET, "Owner": OWNER},
        "securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}},
    },
    "x-amazon-apigateway-gateway-responses": {
        "BAD_REQUEST_BODY": {"responseTemplates": {"application/json": (
            '{"message": $context.error.messageString, '
            '"detail": "$context.error.validationErrorString"}')}},
    },
}

GOOD = {"name": "Marco", "type": "dog", "price": 260}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession, list[Any]]]:
    seen: list[Any] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.json_response({"n": len(seen)})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with serve_app(app) as backend:
        config = write_config(
            tmp_path, API, variables={"backend": backend[len("http://"):]},
            stage_extra={"cacheClusterEnabled": True},
            extra={"usagePlans": [{"id": "p", "apiStages": [{"apiId": "petstore",
                                                             "stage": "prod"}],
                                   "apiKeys": ["k"]}],
                   "apiKeys": [{"id": "k", "value": "key-0123456789abcdefghij"}]})
        async with run_gateway(config) as gateway, aiohttp.ClientSession() as client:
            yield gateway.url + "/prod", client, seen


async def test_missing_parameters_in_aws_order(gw: Any) -> None:
    url, client, seen = gw
    async with client.post(f"{url}/pets/1", json=GOOD) as resp:
        assert resp.status == 400
        assert resp.headers["x-amzn-ErrorType"] == "BadRequestException"
        # headers first, then path, then query string, each sorted (recorded from AWS)
        assert orjson.loads(await resp.read()) == {
            "message": "Missing required request parameters: [x-header-param, issuer, qs1]"}
    # present but blank counts as missing; parameters are checked before the body
    async with client.post(f"{url}/pets/1?qs1=&issuer=i", json={"bad": True},
                           headers={"x-header-param": "  "}) as resp:
        assert resp.status == 400
        assert orjson.loads(await resp.read())["message"] == (
            "Missing required request parameters: [x-header-param, qs1]")
    assert seen == []


async def test_body_model_with_its_reference_and_the_error_string(gw: Any) -> None:
    url, client, seen = gw
    full = f"{url}/pets/1?qs1=a&issuer=i"
    params = {"x-header-param": "h"}
    async with client.post(full, json=GOOD, headers=params) as resp:
        assert resp.status == 200
    assert orjson.loads(seen[-1]) == GOOD
    bad = {**GOOD, "type": "bird", "owner": {}}
    async with client.post(full, json=bad, headers=params) as resp:
        assert resp.status == 400
        doc = orjson.loads(await resp.read())
    assert doc["message"] == "Invalid request body"
    # both failures, the referenced model's included, in validationErrorString
    assert 'instance value (\\"bird\\") not found in enum' in doc["detail"] or \
        'instance value ("bird") not found in enum' in doc["detail"]
    assert "email" in doc["detail"]
    # an empty body against a model with required properties fails
    async with client.post(full, data=b"", headers={**params, **JSON}) as resp:
        assert resp.status == 400
    # a content type without a model is not validated
    async with client.post(full, data=b"not json", headers={**params,
                                                            "Content-Type": "text/plain"}) as resp:
        assert resp.status == 200
    assert len(seen) == 2


async def test_a_method_validator_overrides_the_default(gw: Any) -> None:
    url, client, _seen = gw
    async with client.post(f"{url}/loose", json={"bad": True}) as resp:
        assert resp.status == 400  # parameters only: q is missing
        assert orjson.loads(await resp.read())["message"] == (
            "Missing required request parameters: [q]")
    async with client.post(f"{url}/loose?q=1", json={"bad": True}) as resp:
        assert resp.status == 200  # the body is not validated


async def test_after_the_api_key_before_the_cache(gw: Any) -> None:
    url, client, seen = gw
    async with client.post(f"{url}/keyed", json={"bad": True}) as resp:
        assert resp.status == 403  # the key is checked first
    async with client.post(f"{url}/keyed", json={"bad": True},
                           headers={"x-api-key": "key-0123456789abcdefghij"}) as resp:
        assert resp.status == 400
    async with client.get(f"{url}/cached?q=1") as resp:
        assert resp.status == 200
    async with client.get(f"{url}/cached?q=1") as resp:  # a cache hit
        assert resp.status == 200
    assert len(seen) == 1
    # the cache would answer (no key parameters: one entry for the resource), but
    # validation runs first
    async with client.get(f"{url}/cached") as resp:
        assert resp.status == 400


async def test_compressed_bodies_are_validated_decoded(gw: Any) -> None:
    url, client, seen = gw
    full = f"{url}/pets/1?qs1=a&issuer=i"
    headers = {"x-header-param": "h", **JSON, "Content-Encoding": "gzip"}
    async with client.post(full, data=gzip.compress(orjson.dumps(GOOD)),
                           headers=headers) as resp:
        assert resp.status == 200
    assert orjson.loads(seen[-1]) == GOOD  # the backend gets it decoded
    async with client.post(full, data=gzip.compress(b'{"name": 1}'), headers=headers) as resp:
        assert resp.status == 400
    async with client.post(full, data=b"not gzip", headers=headers) as resp:
        assert resp.status == 415
    async with client.post(full, data=orjson.dumps(GOOD),
                           headers={**headers, "Content-Encoding": "br"}) as resp:
        assert resp.status == 415
        assert await resp.read() == b'{"message":"Unsupported Media Type"}'
    assert len(seen) == 1
