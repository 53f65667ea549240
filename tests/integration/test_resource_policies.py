"""Resource policies (``x-amazon-apigateway-policy``) through the real gateway: IP conditions
against the client's address (not a header it can write), other condition keys, explicit and
implicit denies with AWS's messages naming the caller and the masked resource, and a Deny that
answers before the route is looked up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.support.gateway import RunningGateway, run_gateway, write_config

ARN = "arn:aws:execute-api:us-east-1:********9012:shop/prod"


def _mock() -> dict[str, Any]:
    return {"get": {"x-amazon-apigateway-integration": {
        "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
        "responses": {"default": {"statusCode": 200,
                                  "responseTemplates": {"application/json": '{"ok":true}'}}}}}}


def _allow(resource: str | list[str], condition: dict[str, Any] | None = None,
           effect: str = "Allow") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Principal": "*",
                                 "Action": "execute-api:Invoke", "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return statement


POLICY = {"Version": "2012-10-17", "Statement": [
    _allow(["execute-api:/prod/GET/open", "execute-api:/prod/GET/blocked",
            "execute-api:/prod/GET/partners/*"],
           {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}),
    _allow("execute-api:/prod/GET/office", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    _allow("execute-api:/prod/GET/blocked",
           {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, effect="Deny"),
    _allow("execute-api:/prod/GET/partners/*",
           {"StringNotLike": {"aws:Referer": "https://*.partner.example/*"}}, effect="Deny"),
]}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    paths = {p: _mock() for p in ("/open", "/office", "/blocked", "/partners/{id}", "/none")}
    openapi = {"openapi": "3.0.1", "info": {"title": "shop"}, "paths": paths,
               "x-amazon-apigateway-policy": POLICY}
    async with run_gateway(write_config(tmp_path, openapi, api_id="shop",
                                        extra={"aws": {"region": "us-east-1"}})) as gw:
        yield gw


async def _get(gw: RunningGateway, path: str, **headers: str) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/prod{path}",
                                                         headers=headers) as r:
        return r.status, r.headers.get("x-amzn-ErrorType", ""), orjson.loads(await r.read())


async def test_an_allow_for_the_client_s_address(gateway: RunningGateway) -> None:
    assert await _get(gateway, "/open") == (200, "", {"ok": True})


async def test_an_allow_for_another_address_is_an_implicit_deny(
        gateway: RunningGateway) -> None:
    denied = (403, "AccessDeniedException", {"Message": (
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        f"{ARN}/GET/office")})
    assert await _get(gateway, "/office") == denied
    # X-Forwarded-For is the client's to write: the condition reads the connection's address
    assert await _get(gateway, "/office", **{"X-Forwarded-For": "10.1.2.3"}) == denied
    # a method the policy does not name at all: no explicit Allow, so denied
    assert (await _get(gateway, "/none"))[0] == 403


async def test_an_explicit_deny_wins_over_an_allow(gateway: RunningGateway) -> None:
    assert await _get(gateway, "/blocked") == (403, "AccessDeniedException", {"Message": (
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        f"{ARN}/GET/blocked with an explicit deny")})


async def test_other_condition_keys(gateway: RunningGateway) -> None:
    assert (await _get(gateway, "/partners/7"))[0] == 403  # no Referer: StringNotLike holds
    assert (await _get(gateway, "/partners/7",
                       Referer="https://shop.partner.example/cart"))[0] == 200
    assert (await _get(gateway, "/partners/7", Referer="https://evil.example/"))[0] == 403
