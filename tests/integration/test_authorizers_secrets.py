"""Secrets stay out of logs and metrics: `sluice serve` at DEBUG with an access log on stdout,
after successful and failed requests carrying a token (Lambda authorizer, an unmatched route
that echoes the header back to the caller) and SigV4-signed ones (a right and a wrong secret),
neither the tokens nor the secret key appear in what the gateway writes or in /metrics."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import yaml
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.gateway import GatewayProcess

TOKEN = "tok-7f3a91c2e5d84b06"  # allowed
DENIED = "deny-0b1c2d3e4f5a6b7c"
FAILING = "boom-a1b2c3d4e5f60718"
SECRET = "sEcReT-9d8c7b6a5f4e3d2c1b0a"
ALICE = Credentials("AKIAALICE00000000001", SECRET)

AUTHORIZER = '''
def handler(event, context):
    token = event["authorizationToken"]
    if token.startswith("boom-"):
        raise ValueError("the token store is down")
    effect = "Deny" if token.startswith("deny-") else "Allow"
    return {"principalId": "user", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
'''


def _mock(security: str) -> dict[str, object]:
    return {"get": {"security": [{security: []}], "x-amazon-apigateway-integration": {
        "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
        "responses": {"default": {"statusCode": 200}}}}}


async def test_no_token_or_secret_in_logs_or_metrics(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "auth.py").write_text(AUTHORIZER)
    (tmp_path / "api.yaml").write_text(yaml.safe_dump({
        "openapi": "3.0.1", "info": {"title": "secrets"},
        "components": {"securitySchemes": {
            "tok": {"type": "apiKey", "name": "Authorization", "in": "header",
                    "x-amazon-apigateway-authorizer": {
                        "type": "token", "authorizerResultTtlInSeconds": 0,
                        "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/"
                                         "functions/arn:aws:lambda:us-east-1:123456789012:"
                                         "function:auth/invocations"}},
            "sigv4": {"type": "apiKey", "name": "Authorization", "in": "header",
                      "x-amazon-apigateway-authtype": "awsSigv4"}}},
        "paths": {"/token": _mock("tok"), "/iam": _mock("sigv4")},
    }))
    config = tmp_path / "sluice.yaml"
    config.write_text(yaml.safe_dump({
        "aws": {"region": "us-east-1"},
        "apis": [{"id": "secrets", "definition": "api.yaml", "stages": {"prod": {
            "accessLogSettings": {"format": "JSON", "destination": "stdout"}}}}],
        "functions": {"auth": {"handler": "auth.handler", "codeUri": "fn"}},
        "iam": {"credentials": [{"accessKeyId": ALICE.access_key, "secretAccessKey": SECRET,
                                 "userArn": "arn:aws:iam::123456789012:user/alice"}]},
    }))
    gateway = GatewayProcess(config, "--log-level", "DEBUG")
    gateway.start()
    try:
        async with aiohttp.ClientSession() as http:
            async def status(path: str, headers: dict[str, str]) -> int:
                async with http.get(f"{gateway.url}/prod{path}", headers=headers) as r:
                    await r.read()
                    return r.status

            assert await status("/token", {"Authorization": TOKEN}) == 200
            assert await status("/token", {"Authorization": DENIED}) == 403
            assert await status("/token", {"Authorization": FAILING}) == 500
            # the unmatched route answers with the header in the body, as AWS does...
            async with http.get(f"{gateway.url}/prod/nowhere",
                                headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 403 and TOKEN in await r.text()
            for secret, expected in ((SECRET, 200), ("not-the-secret", 403)):
                request = AWSRequest(method="GET", url=f"{gateway.url}/prod/iam")
                SigV4Auth(Credentials(ALICE.access_key, secret), "execute-api",
                          "us-east-1").add_auth(request)
                assert await status("/iam", dict(request.headers.items())) == expected
            async with http.get(f"{gateway.admin_url}/metrics") as r:
                metrics = await r.text()
    finally:
        gateway.stop()
    log = gateway.output()
    # ... but the gateway's own log and the access log hold neither tokens nor the secret
    assert log.count('"status":"') >= 6  # the access log lines are there
    assert "the token store is down" in log  # and the function's own output
    for secret in (TOKEN, DENIED, FAILING, SECRET):
        assert secret not in log, secret
        assert secret not in metrics, secret
