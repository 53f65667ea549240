"""Lambda authorizers (TOKEN and REQUEST) through the real gateway, with real authorizer
functions run as processes: what reaches the function and the backend, AWS's answers, the
result cache (proven by counting the function's calls, on an injected clock), and the order of
the checks (resource policy, authorizer, policy again, API key)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from proxy.authorizers import AuthorizerServices
from tests.support.gateway import RunningGateway, run_gateway
from tests.support.waiting import eventually

ACCOUNT = "123456789012"
KEY = "alice-0123456789abcdefghij"

AUTHORIZER = '''
import json, os, time

def _count(event):
    with open(os.environ["CALLS"], "a") as f:
        f.write(json.dumps(event) + "\\n")

def _policy(principal, effect, resource, **extra):
    return {"principalId": principal, "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}, **extra}

def token(event, context):
    _count(event)
    tok = event["authorizationToken"]
    api = event["methodArn"].split("/")[0]  # arn:aws:execute-api:region:account:api
    if tok == "unauthorized":
        raise Exception("Unauthorized")
    if tok == "boom":
        raise ValueError("boom")
    if tok == "garbage":
        return {"principalId": "x", "policyDocument": "not a policy"}
    if tok == "objects":
        return _policy("x", "Allow", api + "/*", context={"nested": {"a": 1}})
    if tok == "slow":
        time.sleep(float(os.environ.get("SLOW", "2")))
    if tok == "gated":  # answers once the test opens the gate
        while not os.path.exists(os.environ["CALLS"] + ".gate"):
            time.sleep(0.005)
    if tok.startswith("deny"):
        return _policy("user-" + tok, "Deny", api + "/*", context={"tier": "none"})
    if tok.startswith("pets-only"):
        return _policy("user-" + tok, "Allow", api + "/prod/GET/pets")
    extra = {"usageIdentifierKey": os.environ["KEY"]} if tok.startswith("key") else {}
    return _policy("user-" + tok, "Allow", api + "/*",
                   context={"tier": "gold", "n": 3, "ok": True}, **extra)

def request(event, context):
    _count(event)
    user = event["headers"].get("X-User") or ""
    effect = "Deny" if user == "mallory" else "Allow"
    api = event["methodArn"].split("/")[0]
    return _policy(user or "nobody", effect, api + "/*",
                   context={"tenant": (event["queryStringParameters"] or {}).get("tenant", "")})

def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
'''


def _uri(fn: str) -> str:
    return ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}/invocations")


def _echo(*security: dict[str, list[str]], params: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    op: dict[str, Any] = {"x-amazon-apigateway-integration": {
        "type": "aws_proxy", "httpMethod": "POST", "uri": _uri("echo")}}
    if security:
        op["security"] = list(security)
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True} for p in params]
    return {"get": op}


def _token_scheme(fn: str = "token", **authorizer: Any) -> dict[str, Any]:
    return {"type": "apiKey", "name": authorizer.pop("header", "Authorization"), "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": _uri(fn),
                                               **authorizer}}


def _definition(*, key_source: str = "HEADER", policy: dict[str, Any] | None = None,
                responses: dict[str, Any] | None = None) -> dict[str, Any]:
    tok = {"tok": []}
    doc: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {"title": "authz"},
        "x-amazon-apigateway-api-key-source": key_source,
        "components": {"securitySchemes": {
            "tok": _token_scheme(identityValidationExpression="[a-z0-9-]+"),
            "fresh": _token_scheme(header="X-Token", authorizerResultTtlInSeconds=0),
            "req": {"type": "apiKey", "name": "Unused", "in": "header",
                    "x-amazon-apigateway-authtype": "custom",
                    "x-amazon-apigateway-authorizer": {
                        "type": "request", "authorizerUri": _uri("request"),
                        "identitySource": "method.request.header.X-User, "
                                          "method.request.querystring.tenant",
                        "authorizerResultTtlInSeconds": 60}},
            "reqnocache": {"type": "apiKey", "name": "Unused", "in": "header",
                           "x-amazon-apigateway-authorizer": {
                               "type": "request", "authorizerUri": _uri("request"),
                               "authorizerResultTtlInSeconds": 0}},
            "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"},
            "byvar": _token_scheme("${stageVariables.authfn}"),
            "novar": _token_scheme("${stageVariables.nofn}"),
        }},
        "paths": {
            "/pets": _echo(tok),
            "/orders": _echo(tok),
            "/keyed": _echo(tok, {"api_key": []}),
            "/fresh": _echo({"fresh": []}),
            "/tenants/{id}": _echo({"req": []}, params=["id"]),
            "/anyone": _echo({"reqnocache": []}),
            "/open": _echo(),
            "/byvar": _echo({"byvar": []}),
            "/novar": _echo({"novar": []}),
            "/mapped": {"get": {"security": [tok], "x-amazon-apigateway-integration": {
                "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                "responses": {"default": {"statusCode": "200", "responseTemplates": {
                    "application/json": '{"principal": "$context.authorizer.principalId", '
                                        '"tier": "$context.authorizer.tier", '
                                        '"n": "$context.authorizer.n"}'}}}}}},
        },
    }
    if policy is not None:
        doc["x-amazon-apigateway-policy"] = policy
    if responses is not None:
        doc["x-amazon-apigateway-gateway-responses"] = responses
    return doc


def _write(tmp_path: Path, definition: dict[str, Any]) -> Path:
    code = tmp_path / "fn"
    code.mkdir(exist_ok=True)
    (code / "auth.py").write_text(AUTHORIZER)
    calls = tmp_path / "calls.jsonl"
    calls.touch()
    env = {"CALLS": str(calls), "KEY": KEY, "SLOW": "2"}
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(definition))
    config = tmp_path / "sluice.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0"},
        "apis": [{"id": "authz", "definition": "api.yaml",
                  "stages": {"prod": {"variables": {"v": "1", "authfn": "token",
                                                    "nofn": "nothere"}}}}],
        "functions": {
            "token": {"handler": "auth.token", "codeUri": "fn", "environment": env,
                      "timeout": 1},
            "request": {"handler": "auth.request", "codeUri": "fn", "environment": env},
            "echo": {"handler": "auth.echo", "codeUri": "fn"},
        },
        "usagePlans": [{"id": "plan", "apiStages": [{"apiId": "authz", "stage": "prod"}],
                        "apiKeys": ["alice"]}],
        "apiKeys": [{"id": "alice", "value": KEY}],
    }))
    return config


class Clock:
    """The result cache's clock, stepped by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Api:
    def __init__(self, gateway: RunningGateway, calls: Path, clock: Clock) -> None:
        self.gateway = gateway
        self.calls_file = calls
        self.clock = clock

    def calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]

    async def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
        async with aiohttp.ClientSession() as http, http.get(
                self.gateway.url + "/prod" + path, headers=headers) as r:
            body = await r.read()
            return r.status, dict(r.headers), orjson.loads(body) if body else None


async def _api(tmp_path: Path, definition: dict[str, Any]) -> AsyncIterator[Api]:
    clock = Clock()
    config = _write(tmp_path, definition)
    async with run_gateway(config, authorizers=AuthorizerServices(monotonic=clock)) as gw:
        yield Api(gw, tmp_path / "calls.jsonl", clock)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for running in _api(tmp_path, _definition()):
        yield running


# --- TOKEN ---------------------------------------------------------------------------------


async def test_an_allowed_token_reaches_the_function_with_its_principal_and_context(
        api: Api) -> None:
    status, _headers, event = await api.get("/pets", Authorization="alice")
    assert status == 200
    authorizer = event["requestContext"]["authorizer"]
    # context values stringified as $context.authorizer.* shows them
    assert {k: v for k, v in authorizer.items() if k != "integrationLatency"} == {
        "principalId": "user-alice", "tier": "gold", "n": "3", "ok": "true"}
    assert isinstance(authorizer["integrationLatency"], int)
    [call] = api.calls()
    assert call == {"type": "TOKEN", "authorizationToken": "alice",
                    "methodArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:authz/prod/GET/pets"}
    assert event["requestContext"]["accountId"] == ACCOUNT


async def test_a_mapping_template_reads_the_principal_and_context(api: Api) -> None:
    """$context.authorizer.* in a non-proxy method's templates (they printed empty before)."""
    status, _headers, body = await api.get("/mapped", Authorization="alice")
    assert status == 200
    assert body == {"principal": "user-alice", "tier": "gold", "n": "3"}


async def test_no_token_or_a_token_failing_the_expression_is_401_without_a_call(
        api: Api) -> None:
    for headers in ({}, {"Authorization": ""}, {"Authorization": "Not Valid!"}):
        status, response_headers, body = await api.get("/pets", **headers)
        assert (status, body) == (401, {"message": "Unauthorized"})
        assert response_headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert api.calls() == []


async def test_the_function_s_own_answers(api: Api) -> None:
    assert (await api.get("/pets", Authorization="unauthorized"))[::2] == (
        401, {"message": "Unauthorized"})
    for token in ("boom", "garbage", "objects"):
        status, headers, body = await api.get("/pets", Authorization=token)
        assert (status, body) == (500, {"message": None}), token
        assert headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    status, headers, body = await api.get("/pets", Authorization="deny-bob")
    assert (status, body) == (403, {
        "Message": "User is not authorized to access this resource with an explicit deny"})
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"


async def test_a_timeout_is_a_configuration_error(api: Api) -> None:
    # the function's own timeout (1 s) passes while it sleeps 2 s
    status, _headers, body = await api.get("/pets", Authorization="slow")
    assert (status, body) == (500, {"message": None})
    assert (await api.get("/pets", Authorization="alice"))[0] == 200  # a new instance serves


async def test_results_are_cached_by_token_and_the_policy_evaluated_per_method(
        api: Api) -> None:
    for _ in range(3):
        assert (await api.get("/pets", Authorization="pets-only"))[0] == 200
    assert len(api.calls()) == 1
    # the cached policy allows GET /pets only: GET /orders is an implicit deny, without a call
    status, _, body = await api.get("/orders", Authorization="pets-only")
    assert (status, body) == (403, {"Message": "User is not authorized to access this resource"})
    assert len(api.calls()) == 1
    # another token is another identity
    assert (await api.get("/orders", Authorization="bob"))[0] == 200
    assert len(api.calls()) == 2
    # cached with its principal and context: the second answer is the same as the first
    _, _, event = await api.get("/orders", Authorization="bob")
    assert event["requestContext"]["authorizer"]["principalId"] == "user-bob"
    assert event["requestContext"]["authorizer"]["integrationLatency"] == 0


async def test_the_cache_lasts_its_ttl_on_the_injected_clock(api: Api) -> None:
    await api.get("/pets", Authorization="alice")
    api.clock.now += 299
    await api.get("/pets", Authorization="alice")
    assert len(api.calls()) == 1
    api.clock.now += 2  # 301 s after the call: past authorizerResultTtlInSeconds (300)
    await api.get("/pets", Authorization="alice")
    assert len(api.calls()) == 2


async def test_a_deny_is_cached_too(api: Api) -> None:
    for _ in range(2):
        assert (await api.get("/pets", Authorization="deny-bob"))[0] == 403
    assert len(api.calls()) == 1


async def test_ttl_zero_calls_every_time(api: Api) -> None:
    for _ in range(3):
        assert (await api.get("/fresh", **{"X-Token": "alice"}))[0] == 200
    assert [c["authorizationToken"] for c in api.calls()] == ["alice"] * 3


async def test_concurrent_requests_with_one_token_share_one_call(api: Api) -> None:
    answers = await asyncio.gather(*(api.get("/pets", Authorization="carol")
                                     for _ in range(8)))
    assert [a[0] for a in answers] == [200] * 8
    assert len(api.calls()) == 1


async def test_a_function_named_by_a_stage_variable(api: Api) -> None:
    assert (await api.get("/byvar", Authorization="alice"))[0] == 200
    assert len(api.calls()) == 1
    # a stage variable naming no configured function: 500, as AWS answers a missing function
    status, headers, body = await api.get("/novar", Authorization="alice")
    assert (status, body) == (500, {"message": None})
    assert headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


async def test_a_caller_that_leaves_mid_call_still_leaves_its_answer_cached_for_others(
        api: Api) -> None:
    first = asyncio.ensure_future(api.get("/pets", Authorization="gated"))
    await eventually(lambda: len(api.calls()) == 1, what="the authorizer called")
    first.cancel()  # the first caller goes away while its call is in flight
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.ensure_future(api.get("/pets", Authorization="gated"))
    await asyncio.sleep(0)
    (api.calls_file.parent / "calls.jsonl.gate").touch()
    assert (await second)[0] == 200
    assert (await api.get("/pets", Authorization="gated"))[0] == 200  # cached
    assert len(api.calls()) == 1


# --- REQUEST -------------------------------------------------------------------------------


async def test_the_request_event_and_the_cache_key_of_every_identity_source(api: Api) -> None:
    status, headers, event = await api.get("/tenants/7?tenant=acme&x=1", **{"X-User": "alice"})
    assert status == 200
    assert event["requestContext"]["authorizer"]["tenant"] == "acme"
    [call] = api.calls()
    assert call["type"] == "REQUEST"
    assert call["methodArn"] == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:authz/prod/GET/tenants/7"
    assert call["resource"] == "/tenants/{id}" and call["path"] == "/tenants/7"
    assert call["httpMethod"] == "GET"
    assert call["headers"]["X-User"] == "alice"
    assert call["multiValueHeaders"]["X-User"] == ["alice"]
    assert call["queryStringParameters"] == {"tenant": "acme", "x": "1"}
    assert call["pathParameters"] == {"id": "7"}
    assert call["stageVariables"] == {"v": "1", "authfn": "token", "nofn": "nothere"}
    assert call["requestContext"]["requestId"] == headers["x-amzn-RequestId"]
    assert call["requestContext"]["resourcePath"] == "/tenants/{id}"
    # the same identity sources: cached, whatever else differs
    assert (await api.get("/tenants/8?tenant=acme&x=2", **{"X-User": "alice"}))[0] == 200
    assert len(api.calls()) == 1
    # one source differs: another identity
    assert (await api.get("/tenants/8?tenant=other", **{"X-User": "alice"}))[0] == 200
    assert len(api.calls()) == 2


async def test_a_missing_identity_source_is_401_without_a_call(api: Api) -> None:
    assert (await api.get("/tenants/1", **{"X-User": "alice"}))[::2] == (
        401, {"message": "Unauthorized"})
    assert (await api.get("/tenants/1?tenant=acme"))[0] == 401
    assert (await api.get("/tenants/1?tenant=", **{"X-User": "alice"}))[0] == 401
    assert api.calls() == []
    assert (await api.get("/tenants/1?tenant=acme", **{"X-User": "mallory"}))[0] == 403


async def test_without_caching_a_request_authorizer_is_called_whatever_the_request_holds(
        api: Api) -> None:
    assert (await api.get("/anyone"))[0] == 200
    assert (await api.get("/anyone"))[0] == 200
    assert len(api.calls()) == 2


# --- the order of the checks ---------------------------------------------------------------


async def test_a_missing_api_key_after_a_successful_authorizer_is_403(api: Api) -> None:
    status, _, body = await api.get("/keyed", Authorization="alice")
    assert (status, body) == (403, {"message": "Forbidden"})
    assert len(api.calls()) == 1  # the authorizer ran first, and allowed
    assert (await api.get("/keyed", Authorization="alice", **{"x-api-key": KEY}))[0] == 200
    # no token: the authorizer's 401 comes before the key's 403
    assert (await api.get("/keyed", **{"x-api-key": KEY}))[0] == 401


async def test_a_resource_policy_deny_never_calls_the_authorizer(tmp_path: Path) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": ["execute-api:/prod/GET/orders", "execute-api:/prod/*/secret/*"]}]}
    async for api in _api(tmp_path, _definition(policy=policy)):
        status, _, body = await api.get("/orders", Authorization="alice")
        assert (status, body) == (403, {"Message": (
            "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
            "arn:aws:execute-api:us-east-1:********9012:authz/prod/GET/orders with an "
            "explicit deny")})
        assert api.calls() == []
        # elsewhere the policy allows and the authorizer decides (Table A)
        assert (await api.get("/pets", Authorization="alice"))[0] == 200
        assert (await api.get("/pets", Authorization="deny-x"))[0] == 403
        assert len(api.calls()) == 2
        # the policy's Deny comes before the route: a path no route has is denied by it...
        status, headers, body = await api.get("/secret/x")
        assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
        assert "/prod/GET/secret/x with an explicit deny" in body["Message"]
        # ... while elsewhere a path no route has is the route's 403
        status, headers, body = await api.get("/nowhere")
        assert (status, body) == (403, {"message": "Missing Authentication Token"})


async def test_the_usage_identifier_key_is_the_api_key_when_its_source_is_the_authorizer(
        tmp_path: Path) -> None:
    async for api in _api(tmp_path, _definition(key_source="AUTHORIZER")):
        status, _, event = await api.get("/keyed", Authorization="key-alice")
        assert status == 200
        assert event["requestContext"]["identity"]["apiKeyId"] == "alice"
        # a header key is not read when the source is the authorizer
        status, _, body = await api.get("/keyed", Authorization="alice", **{"x-api-key": KEY})
        assert (status, body) == (403, {"message": "Forbidden"})


# --- gateway responses ---------------------------------------------------------------------


async def test_the_authorizer_answers_are_customisable_gateway_responses(tmp_path: Path) -> None:
    responses = {
        "UNAUTHORIZED": {"statusCode": 401,
                         "responseParameters": {"gatewayresponse.header.WWW-Authenticate":
                                                "'Bearer'"},
                         "responseTemplates": {"application/json": '{"error":"who are you?"}'}},
        "ACCESS_DENIED": {"responseTemplates": {"application/json": (
            '{"who":"$context.authorizer.principalId","tier":"$context.authorizer.tier",'
            '"why":$context.error.messageString}')}},
        "AUTHORIZER_CONFIGURATION_ERROR": {"statusCode": 503},
    }
    async for api in _api(tmp_path, _definition(responses=responses)):
        status, headers, body = await api.get("/pets")
        assert (status, body) == (401, {"error": "who are you?"})
        assert headers["WWW-Authenticate"] == "Bearer"
        status, _, body = await api.get("/pets", Authorization="deny-bob")
        assert (status, body) == (403, {
            "who": "user-deny-bob", "tier": "none",
            "why": "User is not authorized to access this resource with an explicit deny"})
        assert (await api.get("/pets", Authorization="boom"))[:1] == (503,)
