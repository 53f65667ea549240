"""Warm-path costs of the authorizer decisions (micro-benchmarks, excluded from `make test`:
run with `pytest -m benchmark tests/unit/test_auth_speed.py`)."""

from __future__ import annotations

import asyncio
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict

from proxy.auth.arn import api_arn, method_arn
from proxy.auth.cognito import CognitoAuthorizer, Jwks, UserPool
from proxy.auth.lambda_authorizer import (
    LambdaAuthorizer,
    ResultCache,
    parse_identity_sources,
    parse_output,
)
from proxy.auth.policy import authorize
from proxy.auth.sigv4 import SigV4Verifier
from tests.support.jwks import POOL_ARN, SigningKey, jwks_document
from tests.unit.test_auth_sigv4 import ALICE, Signed

PREFIX = api_arn("us-east-1", "123456789012", "a1b2c3")
ARN = method_arn(PREFIX, "prod", "GET", "/pets/1")


@pytest.mark.benchmark
def test_token_authorizer_warm(benchmark) -> None:  # type: ignore[no-untyped-def]
    authorizer = LambdaAuthorizer("TOKEN", parse_identity_sources(
        "method.request.header.Authorization"))
    cache = ResultCache(300)
    cache.put("Bearer abc", parse_output({"principalId": "u", "policyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{PREFIX}/*/GET/*"}]}}))
    headers = CIMultiDict(Authorization="Bearer abc")

    def warm() -> None:
        hit = cache.get(authorizer.token(headers))
        assert hit is not None
        authorize("CUSTOM", hit.policy.evaluate(ARN), None, ARN)

    benchmark(warm)


@pytest.mark.benchmark
def test_cognito_warm(benchmark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = SigningKey("k1")
    (tmp_path / "jwks.json").write_bytes(jwks_document(key))
    authorizer = CognitoAuthorizer([(UserPool.from_arn(POOL_ARN),
                                     Jwks(str(tmp_path / "jwks.json")))])
    headers = CIMultiDict(Authorization=key.token(now=time.time()))

    def drive() -> None:  # a coroutine that never suspends, run to completion
        coroutine = authorizer.authenticate(headers)
        try:
            coroutine.send(None)
        except StopIteration:
            return
        raise AssertionError("the warm path suspended")

    asyncio.run(authorizer.load())
    drive()  # the first call verifies the signature and caches the claims
    benchmark(drive)


@pytest.mark.benchmark
def test_sigv4_verify(benchmark) -> None:  # type: ignore[no-untyped-def]
    request = AWSRequest(method="GET", url="https://h.example.com/prod/pets/1?a=1&b=2",
                         headers={"Accept": "application/json"})
    SigV4Auth(Credentials(ALICE.access_key_id, ALICE.secret_access_key), "execute-api",
              "us-east-1").add_auth(request)
    signed = Signed(request)
    verifier = SigV4Verifier([ALICE], clock=lambda: signed.signed_at)
    benchmark(verifier.verify, signed.method, signed.path, signed.query, signed.headers,
              signed.body)
