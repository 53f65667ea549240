"""boto3's apigateway client against the admin API: the AWS SDK is the compatibility check."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.awsrequest import AWSPreparedRequest

from proxy.admin import build_admin_app
from ratelimit.registry import Registry
from ratelimit.storage.registry import MemoryRegistryStore

DEPLOYMENT = [{"id": "petstore", "name": "Petstore", "stages": [{"stageName": "prod"}]}]


class KnownUsage:
    async def daily_usage(
        self, plan_id: str, key_id: str, days: Sequence[datetime.date]
    ) -> list[int]:
        return [d.day for d in days]  # a count a test can predict: the day of the month


async def _serve(admin_token: str | None) -> AsyncIterator[tuple[str, list[tuple[str, str]]]]:
    registry = Registry(MemoryRegistryStore())
    await registry.start()
    flushed: list[tuple[str, str]] = []

    async def flush(api_id: str, stage: str) -> bool:
        flushed.append((api_id, stage))
        return (api_id, stage) == ("petstore", "prod")

    async def health() -> bool:
        return True

    app = build_admin_app(
        registry=registry,
        usage=KnownUsage(),
        deployment_info=lambda: DEPLOYMENT,
        flush_cache=flush,
        metrics_render=lambda: (b"", "text/plain"),
        health=health,
        admin_token=admin_token,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", flushed
    await runner.cleanup()
    await registry.aclose()


def _client(url: str) -> Any:
    return boto3.client(
        "apigateway",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[tuple[str, str]]]]:
    async for s in _serve(None):
        yield s


async def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # boto3 blocks; the server runs on this loop, so the SDK runs on a thread.
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_api_keys(server: tuple[str, list[tuple[str, str]]]) -> None:
    c = _client(server[0])
    created = await _run(c.create_api_key, name="alice", value="a" * 24, enabled=True)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["name"] == "alice" and created["value"] == "a" * 24 and created["enabled"]
    assert isinstance(created["createdDate"], datetime.datetime)
    key_id = created["id"]

    listed = await _run(c.get_api_keys, includeValues=True)
    assert [(k["id"], k["value"]) for k in listed["items"]] == [(key_id, "a" * 24)]
    assert "value" not in (await _run(c.get_api_keys))["items"][0]

    got = await _run(c.get_api_key, apiKey=key_id, includeValue=True)
    assert got["value"] == "a" * 24
    updated = await _run(
        c.update_api_key,
        apiKey=key_id,
        patchOperations=[
            {"op": "replace", "path": "/enabled", "value": "false"},
            {"op": "replace", "path": "/description", "value": "demo"},
        ],
    )
    assert updated["enabled"] is False and updated["description"] == "demo"

    await _run(c.delete_api_key, apiKey=key_id)
    with pytest.raises(c.exceptions.NotFoundException):
        await _run(c.get_api_key, apiKey=key_id)
    with pytest.raises(c.exceptions.BadRequestException):
        await _run(c.create_api_key, name="short", value="too-short")


async def test_usage_plans_usage_and_flush(server: tuple[str, list[tuple[str, str]]]) -> None:
    url, flushed = server
    c = _client(url)
    plan = await _run(
        c.create_usage_plan,
        name="basic",
        apiStages=[
            {
                "apiId": "petstore",
                "stage": "prod",
                "throttle": {"/pets/GET": {"burstLimit": 10, "rateLimit": 5.0}},
            }
        ],
        throttle={"burstLimit": 200, "rateLimit": 100.0},
        quota={"limit": 100, "period": "MONTH", "offset": 0},
    )
    assert plan["quota"] == {"limit": 100, "offset": 0, "period": "MONTH"}
    assert plan["apiStages"][0]["throttle"]["/pets/GET"] == {"burstLimit": 10, "rateLimit": 5.0}
    assert [p["id"] for p in (await _run(c.get_usage_plans))["items"]] == [plan["id"]]

    key = await _run(c.create_api_key, name="k", enabled=True)
    pk = await _run(
        c.create_usage_plan_key, usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY"
    )
    assert (pk["id"], pk["type"], pk["value"]) == (key["id"], "API_KEY", key["value"])
    keys = await _run(c.get_usage_plan_keys, usagePlanId=plan["id"])
    assert [k["id"] for k in keys["items"]] == [key["id"]]

    second = await _run(
        c.create_usage_plan, name="other", apiStages=[{"apiId": "petstore", "stage": "prod"}]
    )
    with pytest.raises(c.exceptions.ConflictException):
        await _run(
            c.create_usage_plan_key, usagePlanId=second["id"], keyId=key["id"], keyType="API_KEY"
        )

    usage = await _run(
        c.get_usage,
        usagePlanId=plan["id"],
        keyId=key["id"],
        startDate="2026-03-02",
        endDate="2026-03-03",
    )
    # days 1 and 2 of March count 1 and 2; the month's quota of 100 counts from March 1
    assert usage["usagePlanId"] == plan["id"]
    assert usage["items"] == {key["id"]: [[2, 97], [3, 94]]}

    await _run(c.delete_usage_plan_key, usagePlanId=plan["id"], keyId=key["id"])
    assert (await _run(c.get_usage_plan_keys, usagePlanId=plan["id"]))["items"] == []

    await _run(c.flush_stage_cache, restApiId="petstore", stageName="prod")
    assert flushed == [("petstore", "prod")]
    with pytest.raises(c.exceptions.NotFoundException):
        await _run(c.flush_stage_cache, restApiId="petstore", stageName="qa")


async def test_boto3_with_admin_token() -> None:
    """With adminToken set, boto3 works once a hook replaces its SigV4 header."""
    async for url, _ in _serve("tok"):
        c = _client(url)
        with pytest.raises(c.exceptions.UnauthorizedException):
            await _run(c.get_api_keys)

        def bearer(request: AWSPreparedRequest, **_: Any) -> None:
            request.headers["Authorization"] = "Bearer tok"

        c.meta.events.register("before-send.api-gateway.*", bearer)
        assert (await _run(c.get_api_keys))["items"] == []
