"""Cognito user pool authorizers through the real gateway: RSA keys and JWKS made in the test,
served from a file and over HTTP (an aiohttp app on port 0, its fetches counted), tokens signed
with them; time on an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web

from proxy.authorizers import AuthorizerServices
from tests.support.gateway import RunningGateway, run_gateway, serve_app
from tests.support.jwks import ISSUER, POOL_ARN, SigningKey, jwks_document

NOW = 1_700_000_000.0
KEY = SigningKey("k1")
ROTATED = SigningKey("k2")
STRANGER = SigningKey("k1")  # the same key id, another key: a forged signature
FILE_POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Filed"
FILE_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Filed"

ECHO = '''
import json
def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
'''


class JwksServer:
    def __init__(self) -> None:
        self.document = jwks_document(KEY)
        self.fetches = 0
        self.status = 200
        self.app = web.Application()
        self.app.router.add_get("/jwks.json", self.get)

    async def get(self, request: web.Request) -> web.Response:
        self.fetches += 1
        return web.Response(status=self.status, body=self.document,
                            content_type="application/json")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _route(*security: dict[str, list[str]]) -> dict[str, Any]:
    return {"get": {"security": list(security), "x-amazon-apigateway-integration": {
        "type": "aws_proxy", "httpMethod": "POST",
        "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
               "arn:aws:lambda:us-east-1:123456789012:function:echo/invocations"}}}


def _pool_scheme(*arns: str, **authorizer: Any) -> dict[str, Any]:
    return {"type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools",
                                               "providerARNs": list(arns), **authorizer}}


class Api:
    def __init__(self, gateway: RunningGateway, server: JwksServer, clock: Clock,
                 log: Path) -> None:
        self.gateway = gateway
        self.server = server
        self.clock = clock
        self.log = log

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        headers = {} if token is None else {"Authorization": token}
        async with aiohttp.ClientSession() as http, http.get(
                f"{self.gateway.url}/prod{path}", headers=headers) as r:
            return r.status, orjson.loads(await r.read())


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    server = JwksServer()
    clock = Clock()
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(ECHO)
    (tmp_path / "filed-jwks.json").write_bytes(jwks_document(ROTATED))
    async with serve_app(server.app) as base:
        (tmp_path / "api.yaml").write_text(yaml.safe_dump({
            "openapi": "3.0.1", "info": {"title": "pool"},
            "components": {"securitySchemes": {
                "pool": _pool_scheme(POOL_ARN, FILE_POOL),
                "strict": _pool_scheme(POOL_ARN, identityValidationExpression="client-abc"),
            }},
            "paths": {"/me": _route({"pool": []}), "/pets": _route({"pool": ["pets/read"]}),
                      "/strict": _route({"strict": []})},
        }))
        (tmp_path / "sluice.yaml").write_text(yaml.safe_dump({
            "server": {"listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0"},
            "apis": [{"id": "pool", "definition": "api.yaml", "stages": {"prod": {
                "accessLogSettings": {"destination": str(tmp_path / "access.log"), "format": (
                    '{"email":"$context.authorizer.claims.email",'
                    '"sub":"$context.authorizer.claims.sub","status":"$context.status"}')}}}}],
            "functions": {"echo": {"handler": "app.echo", "codeUri": "fn"}},
            "cognito": {"userPools": {POOL_ARN: {"jwks": f"{base}/jwks.json"},
                                      FILE_POOL: {"jwks": "filed-jwks.json"}}},
        }))
        async with run_gateway(tmp_path / "sluice.yaml",
                               authorizers=AuthorizerServices(clock=clock,
                                                              monotonic=clock)) as gw:
            yield Api(gw, server, clock, tmp_path / "access.log")


async def test_an_id_token_s_claims_reach_the_function_and_the_access_log(api: Api) -> None:
    token = KEY.token(now=NOW, email="alice@example.com", email_verified=True,
                      **{"cognito:groups": ["admins", "ops"]})
    status, event = await api.get("/me", token)
    assert status == 200
    claims = event["requestContext"]["authorizer"]["claims"]
    # as AWS shows them: strings, booleans as true/false, dates as Java's, lists as [a b]
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] == "true"
    assert claims["cognito:groups"] == "[admins ops]"
    assert claims["exp"] == "Tue Nov 14 23:13:20 UTC 2023"
    assert claims["iss"] == ISSUER and claims["token_use"] == "id"
    assert "principalId" not in event["requestContext"]["authorizer"]
    # "Bearer " is accepted too, and a token of the second pool (its JWKS from a file)
    assert (await api.get("/me", f"Bearer {token}"))[0] == 200
    assert (await api.get("/me", ROTATED.token(now=NOW, issuer=FILE_ISSUER)))[0] == 200
    await api.gateway.runtime.access_logs[str(api.log)].aclose()  # written out
    lines = [orjson.loads(line) for line in api.log.read_text().splitlines()]
    assert lines[0] == {"email": "alice@example.com",
                        "sub": "5f6b6ef2-1111-4b5e-9c1c-000000000001", "status": "200"}


async def test_invalid_tokens_are_401(api: Api) -> None:
    unauthorized = (401, {"message": "Unauthorized"})
    assert await api.get("/me") == unauthorized
    assert await api.get("/me", "not-a-jwt") == unauthorized
    assert await api.get("/me", STRANGER.token(now=NOW)) == unauthorized  # forged signature
    assert await api.get("/me", KEY.token(now=NOW, issuer="https://evil.example")) \
        == unauthorized
    assert await api.get("/me", KEY.token(now=NOW, alg="RS512")) == unauthorized
    assert await api.get("/me", KEY.token(now=NOW, token_use="access")) == unauthorized
    # expiry on the injected clock, also for a token verified (and cached) before
    token = KEY.token(now=NOW, lifetime=60)
    assert (await api.get("/me", token))[0] == 200
    api.clock.now += 61
    assert await api.get("/me", token) == unauthorized


async def test_scopes_need_an_access_token_holding_one(api: Api) -> None:
    read = KEY.token(now=NOW, token_use="access", scope="openid pets/read")
    write = KEY.token(now=NOW, token_use="access", scope="pets/write")
    assert (await api.get("/pets", read))[0] == 200
    assert (await api.get("/pets", write))[0] == 401
    assert (await api.get("/pets", KEY.token(now=NOW)))[0] == 401  # an ID token


async def test_identity_validation_expression_matches_the_audience(api: Api) -> None:
    assert (await api.get("/strict", KEY.token(now=NOW)))[0] == 200
    assert (await api.get("/strict", KEY.token(now=NOW, aud="client-xyz")))[0] == 401


async def test_the_jwks_is_fetched_once_and_again_only_for_an_unknown_key(api: Api) -> None:
    assert api.server.fetches == 0  # not before it is needed
    answers = await asyncio.gather(*(api.get("/me", KEY.token(now=NOW, n=i))
                                     for i in range(10)))
    assert [a[0] for a in answers] == [200] * 10
    for i in range(10):
        assert (await api.get("/me", KEY.token(now=NOW, n=i)))[0] == 200
    assert api.server.fetches == 1
    # the pool rotates its key: the first token with the new key id fetches the set again
    api.server.document = jwks_document(KEY, ROTATED)
    api.clock.now += 61  # past the refresh interval (60 s)
    assert (await api.get("/me", ROTATED.token(now=api.clock.now)))[0] == 200
    assert (await api.get("/me", ROTATED.token(now=api.clock.now, n=1)))[0] == 200
    assert api.server.fetches == 2


async def test_an_unreachable_jwks_is_a_configuration_error(api: Api) -> None:
    api.server.status = 503
    for _ in range(2):  # also while a retry must wait
        status, body = await api.get("/me", KEY.token(now=NOW))
        assert (status, body) == (500, {"message": None})
    assert api.server.fetches == 1
