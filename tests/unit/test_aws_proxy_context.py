"""The AWS_PROXY event's requestContext, read through code generated from the $context table,
against the table read variable by variable (``proxy.context.value``), over the states a
request can be in."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from proxy.auth import IamIdentity
from proxy.config.model import DEFAULT_ACCOUNT_ID
from proxy.context import AuthState, RequestContext, value
from proxy.integrations.aws_proxy import request_context

KEYS = ("apiId", "domainName", "domainPrefix", "extendedRequestId", "httpMethod", "path",
        "protocol", "requestId", "requestTime", "resourceId", "resourcePath", "stage")


def reference(ctx: RequestContext) -> dict[str, object]:
    """What each key reads through value(), in the order AWS sends them."""
    out: dict[str, object] = {"accountId": ctx.account_id or DEFAULT_ACCOUNT_ID,
                              "deploymentId": None}
    out.update((key, value(ctx, key)) for key in KEYS)
    out["requestTimeEpoch"] = ctx.request_time_epoch_ms
    identity = {key: value(ctx, f"identity.{key}")
                for key in ("sourceIp", "userAgent", "apiKey", "apiKeyId")}
    if identity["apiKey"] is None:
        del identity["apiKey"], identity["apiKeyId"]
    if ctx.auth is not None and ctx.auth.caller is not None:
        identity.update((key, value(ctx, f"identity.{key}"))
                        for key in ("accessKey", "accountId", "caller", "user", "userArn"))
    out["identity"] = identity
    return out


def full() -> RequestContext:
    ctx = RequestContext("96e950c6-dd75-405f-afc1-83b8d826c333", "abcdefghijklmno=", 1.0,
                         1764445112957, "Root=1-5e1b4151-5ac6c58f5b5dbd6a7f0e9f1b")
    ctx.http_method = "GET"
    ctx.source_ip = "127.0.0.1"
    ctx.user_agent = "curl/8"
    ctx.domain_name = "abc123.execute-api.us-east-1.amazonaws.com"
    ctx.api_id = "abc123"
    ctx.account_id = "111111111111"
    ctx.stage = "prod"
    ctx.path = "/prod/pets/1"
    ctx.resource_path = "/pets/{id}"
    ctx.resource_id = "r1x2y3"
    return ctx


def with_key(ctx: RequestContext) -> None:
    ctx.api_key = "k" * 40
    ctx.api_key_id = "kid123"


def signed(ctx: RequestContext) -> None:
    ctx.auth = AuthState("arn:aws:execute-api:us-east-1:111111111111:abc123/prod/GET/pets/1")
    ctx.auth.caller = IamIdentity("AKIAEXAMPLE", "arn:aws:iam::222222222222:user/alice",
                                  "222222222222", "AIDAEXAMPLE")


def bare(ctx: RequestContext) -> None:  # what a request may lack
    ctx.domain_name = None
    ctx.user_agent = ""
    ctx.account_id = None
    ctx.resource_id = None


def odd(ctx: RequestContext) -> None:
    ctx.domain_name = "localhost"  # no dot: the whole name is the prefix
    ctx.request_time_epoch_ms = 0
    ctx.auth = AuthState("arn")  # an authorizer ran, no signer


@pytest.mark.parametrize("change", [None, with_key, signed, bare, odd],
                         ids=["full", "with_key", "signed", "bare", "odd"])
def test_the_generated_reading_is_the_tables(
        change: Callable[[RequestContext], None] | None) -> None:
    ctx = full()
    if change is not None:
        change(ctx)
    got = request_context(ctx)
    want = reference(ctx)
    assert got == want
    assert list(got) == list(want)
    assert list(got["identity"]) == list(want["identity"])  # type: ignore[call-overload]


def test_the_request_time_follows_the_requests_second() -> None:
    first, later = full(), full()
    later.request_time_epoch_ms = first.request_time_epoch_ms + 86_400_000
    assert request_context(first)["requestTime"] == "29/Nov/2025:19:38:32 +0000"
    assert request_context(later)["requestTime"] == "30/Nov/2025:19:38:32 +0000"
    assert request_context(first)["requestTime"] == "29/Nov/2025:19:38:32 +0000"
