"""AWS_IAM methods through the real gateway, requests signed with botocore's own SigV4 signer
(header and presigned forms): the signer as the function and access log see it, AWS's 403s,
the signature kept from the backend, and the resource policy with IAM callers (Table B)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from proxy.authorizers import AuthorizerServices
from tests.support.gateway import RunningGateway, run_gateway, serve_app

ALICE = Credentials("AKIAALICE00000000001", "alice-secret-0123456789")
EVE = Credentials("AKIAEVE0000000000002", "eve-secret-0123456789")  # another account
ALICE_ARN = "arn:aws:iam::123456789012:user/alice"
EVE_ARN = "arn:aws:iam::210987654321:user/eve"

ECHO = '''
import json
def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
'''


def _iam_scheme() -> dict[str, Any]:
    return {"type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4"}


def _routes() -> dict[str, Any]:
    lambda_uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                  "arn:aws:lambda:us-east-1:123456789012:function:echo/invocations")
    sigv4 = [{"sigv4": []}]
    return {
        "/whoami": {"get": {"security": sigv4, "x-amazon-apigateway-integration": {
            "type": "aws_proxy", "httpMethod": "POST", "uri": lambda_uri}}},
        "/backend": {"x-amazon-apigateway-any-method": {
            "security": sigv4, "x-amazon-apigateway-integration": {
                "type": "http_proxy", "httpMethod": "ANY",
                "uri": "http://${stageVariables.backend}/seen"}}},
    }


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Api:
    def __init__(self, gateway: RunningGateway, seen: list[dict[str, str]], clock: Clock,
                 log: Path) -> None:
        self.gateway = gateway
        self.seen = seen
        self.clock = clock
        self.log = log

    def signed(self, method: str, path: str, creds: Credentials = ALICE, *,
               body: bytes = b"", region: str = "us-east-1",
               presign: bool = False) -> tuple[str, dict[str, str]]:
        request = AWSRequest(method=method, url=f"{self.gateway.url}/prod{path}", data=body)
        signer = (SigV4QueryAuth(creds, "execute-api", region, expires=60) if presign
                  else SigV4Auth(creds, "execute-api", region))
        signer.add_auth(request)
        return request.url, dict(request.headers.items())

    async def send(self, method: str, url: str, headers: dict[str, str],
                   body: bytes = b"") -> tuple[int, dict[str, str], Any]:
        async with aiohttp.ClientSession() as http, http.request(
                method, url, headers=headers, data=body or None) as r:
            raw = await r.read()
            return r.status, dict(r.headers), orjson.loads(raw) if raw else None

    async def call(self, method: str, path: str, creds: Credentials = ALICE, *,
                   body: bytes = b"", **kw: Any) -> tuple[int, dict[str, str], Any]:
        url, headers = self.signed(method, path, creds, body=body, **kw)
        return await self.send(method, url, headers, body)


async def _api(tmp_path: Path, policy: dict[str, Any] | None = None) -> AsyncIterator[Api]:
    seen: list[dict[str, str]] = []

    async def backend(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/seen", backend)
    definition: dict[str, Any] = {"openapi": "3.0.1", "info": {"title": "iam"},
                                  "components": {"securitySchemes": {"sigv4": _iam_scheme()}},
                                  "paths": _routes()}
    if policy is not None:
        definition["x-amazon-apigateway-policy"] = policy
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(definition))
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text(ECHO)
    log = tmp_path / "access.log"
    clock = Clock()
    async with serve_app(app) as upstream:
        (tmp_path / "sluice.yaml").write_text(yaml.safe_dump({
            "server": {"listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0"},
            "aws": {"region": "us-east-1", "accountId": "123456789012"},
            "apis": [{"id": "iam", "definition": "api.yaml", "stages": {"prod": {
                "variables": {"backend": upstream.removeprefix("http://")},
                "accessLogSettings": {"destination": str(log), "format": (
                    '{"caller":"$context.identity.caller","user":"$context.identity.user",'
                    '"arn":"$context.identity.userArn","account":"$context.identity.accountId",'
                    '"key":"$context.identity.accessKey","status":"$context.status"}')}}}}],
            "functions": {"echo": {"handler": "app.echo", "codeUri": "fn"}},
            "iam": {"credentials": [
                {"accessKeyId": ALICE.access_key, "secretAccessKey": ALICE.secret_key,
                 "userArn": ALICE_ARN, "userId": "AIDAALICE"},
                {"accessKeyId": EVE.access_key, "secretAccessKey": EVE.secret_key,
                 "userArn": EVE_ARN}]},
        }))
        async with run_gateway(tmp_path / "sluice.yaml",
                               authorizers=AuthorizerServices(clock=clock)) as gw:
            yield Api(gw, seen, clock, log)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for running in _api(tmp_path):
        yield running


async def test_a_signed_request_names_its_signer(api: Api) -> None:
    status, _, event = await api.call("GET", "/whoami?b=2&a=1")
    assert status == 200
    identity = event["requestContext"]["identity"]
    assert {k: identity[k] for k in ("accessKey", "accountId", "caller", "user", "userArn")} == {
        "accessKey": ALICE.access_key, "accountId": "123456789012", "caller": "AIDAALICE",
        "user": "AIDAALICE", "userArn": ALICE_ARN}
    await api.gateway.runtime.access_logs[str(api.log)].aclose()
    assert orjson.loads(api.log.read_text().splitlines()[0]) == {
        "caller": "AIDAALICE", "user": "AIDAALICE", "arn": ALICE_ARN,
        "account": "123456789012", "key": ALICE.access_key, "status": "200"}


async def test_the_presigned_form_and_a_signed_body(api: Api) -> None:
    assert (await api.call("GET", "/whoami", presign=True))[0] == 200
    assert (await api.call("POST", "/backend", body=b'{"pet": "rex"}'))[0] == 200
    # the body is part of the signature
    url, headers = api.signed("POST", "/backend", body=b'{"pet": "rex"}')
    status, headers, _body = await api.send("POST", url, headers, b'{"pet": "tom"}')
    assert status == 403 and headers["x-amzn-ErrorType"] == "InvalidSignatureException"


async def test_the_signature_does_not_reach_the_backend(api: Api) -> None:
    assert (await api.call("GET", "/backend"))[0] == 200
    [seen] = api.seen
    assert "Authorization" not in seen
    assert seen["X-Amz-Date"]  # the rest of what the client sent goes on


async def test_aws_answers_to_bad_signatures(api: Api) -> None:
    base = f"{api.gateway.url}/prod/whoami"
    status, headers, body = await api.send("GET", base, {})
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"

    status, headers, body = await api.send("GET", base, {"Authorization": "Bearer tok"})
    assert (status, body) == (403, {"message": "'tok' not a valid key=value pair (missing "
                                               "equal-sign) in Authorization header: 'Bearer tok'."})
    assert headers["x-amzn-ErrorType"] == "IncompleteSignatureException"

    wrong = Credentials(ALICE.access_key, "not-alice-s-secret")
    status, headers, body = await api.call("GET", "/whoami", wrong)
    assert status == 403 and headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert body["message"].startswith("The request signature we calculated does not match")
    assert "alice-secret" not in body["message"]

    stranger = Credentials("AKIASTRANGER00000003", "whatever")
    status, headers, body = await api.call("GET", "/whoami", stranger)
    assert (status, body) == (403, {"message": "The security token included in the request "
                                               "is invalid."})
    assert headers["x-amzn-ErrorType"] == "UnrecognizedClientException"

    status, _, body = await api.call("GET", "/whoami", region="eu-west-1")
    assert status == 403 and "scoped to a valid region" in body["message"]


async def test_a_signature_older_than_five_minutes_is_expired(api: Api) -> None:
    url, headers = api.signed("GET", "/whoami")
    api.clock.offset = 299
    assert (await api.send("GET", url, headers))[0] == 200
    api.clock.offset = 301
    status, headers_out, body = await api.send("GET", url, headers)
    assert status == 403 and headers_out["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert body["message"].startswith("Signature expired: ")


async def test_a_caller_of_another_account_needs_the_resource_policy_s_allow(api: Api) -> None:
    status, _, body = await api.call("GET", "/whoami", EVE)
    assert (status, body) == (403, {"Message": (
        f"User: {EVE_ARN} is not authorized to perform: execute-api:Invoke on resource: "
        "arn:aws:execute-api:us-east-1:********9012:iam/prod/GET/whoami")})


async def test_resource_policy_with_iam_principals_and_ip_conditions(tmp_path: Path) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": EVE_ARN}, "Action": "execute-api:Invoke",
         "Resource": "execute-api:/prod/GET/whoami"},
        {"Effect": "Deny", "Principal": {"AWS": ALICE_ARN}, "Action": "execute-api:Invoke",
         "Resource": "execute-api:/prod/*/backend",
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}}]}
    async for api in _api(tmp_path, policy):
        # Table B: the other account's caller is allowed by the policy and by its signature
        assert (await api.call("GET", "/whoami", EVE))[0] == 200
        assert (await api.call("GET", "/backend", EVE))[0] == 403
        # the same account's caller: the IAM signature suffices where the policy is silent...
        assert (await api.call("GET", "/whoami"))[0] == 200
        # ... but the policy's Deny for this principal from this address wins
        status, _, body = await api.call("GET", "/backend")
        assert (status, body) == (403, {"Message": (
            f"User: {ALICE_ARN} is not authorized to perform: execute-api:Invoke on resource: "
            "arn:aws:execute-api:us-east-1:********9012:iam/prod/GET/backend with an explicit "
            "deny")})
        assert api.seen == []
