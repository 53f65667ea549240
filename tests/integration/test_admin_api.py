"""The admin API on a real aiohttp server: every endpoint, AWS error shapes, the token."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy.admin import build_admin_app
from ratelimit import Registry, plan_stage
from ratelimit.storage.registry import MemoryRegistryStore

TOKEN = "s3cret-token"
DEPLOYMENT = [
    {
        "id": "petstore",
        "name": "Petstore",
        "stages": [{"stageName": "prod", "cacheClusterEnabled": True}, {"stageName": "dev"}],
    },
    {"id": "books", "name": "Books", "stages": [{"stageName": "prod"}]},
]


class KnownUsage:
    """A UsageSource answering fixed per-day counts."""

    def __init__(self, counts: dict[tuple[str, str, datetime.date], int]) -> None:
        self.counts = counts

    async def daily_usage(
        self, plan_id: str, key_id: str, days: Sequence[datetime.date]
    ) -> list[int]:
        return [self.counts.get((plan_id, key_id, d), 0) for d in days]


@dataclass
class Admin:
    url: str
    http: aiohttp.ClientSession
    registry: Registry
    usage: KnownUsage
    flushed: list[tuple[str, str]] = field(default_factory=list)
    healthy: list[bool] = field(default_factory=lambda: [True])

    async def call(
        self, method: str, path: str, json: Any = None, token: str | None = None, **params: str
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(
            method, self.url + path, json=json, params=params, headers=headers
        ) as resp:
            raw = await resp.read()
            body = await resp.json(content_type=None) if raw.startswith(b"{") else raw
            return resp.status, body, resp.headers


async def _serve(admin_token: str | None) -> AsyncIterator[Admin]:
    registry = Registry(MemoryRegistryStore())
    await registry.start()
    usage = KnownUsage({})
    flushed: list[tuple[str, str]] = []
    healthy = [True]

    async def flush(api_id: str, stage: str) -> bool:
        flushed.append((api_id, stage))
        return api_id == "petstore" and stage == "prod"

    async def health() -> bool:
        return healthy[0]

    app = build_admin_app(
        registry=registry,
        usage=usage,
        deployment_info=lambda: DEPLOYMENT,
        flush_cache=flush,
        metrics_render=lambda: (b"sluice_up 1\n", "text/plain; version=0.0.4; charset=utf-8"),
        health=health,
        admin_token=admin_token,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        yield Admin(f"http://127.0.0.1:{port}", http, registry, usage, flushed, healthy)
    await runner.cleanup()
    await registry.aclose()


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    async for a in _serve(None):
        yield a


@pytest.fixture
async def guarded() -> AsyncIterator[Admin]:
    async for a in _serve(TOKEN):
        yield a


def _assert_error(status: int, body: Any, headers: Any, code: int, error_type: str) -> None:
    assert status == code
    assert headers["x-amzn-ErrorType"] == error_type
    assert set(body) == {"message"} and body["message"]


async def test_healthz(admin: Admin) -> None:
    assert (await admin.call("GET", "/healthz"))[:2] == (200, {"status": "ok"})
    admin.healthy[0] = False
    status, _, _ = await admin.call("GET", "/healthz")
    assert status == 503


async def test_metrics(admin: Admin) -> None:
    status, body, headers = await admin.call("GET", "/metrics")
    assert status == 200 and body == b"sluice_up 1\n"
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")


async def test_restapis_and_stages(admin: Admin) -> None:
    status, body, _ = await admin.call("GET", "/restapis")
    assert status == 200
    assert body == {
        "item": [{"id": "books", "name": "Books"}, {"id": "petstore", "name": "Petstore"}]
    }
    status, body, _ = await admin.call("GET", "/restapis", limit="1")
    assert body == {"item": [{"id": "books", "name": "Books"}], "position": "petstore"}
    status, body, _ = await admin.call("GET", "/restapis/petstore/stages")
    assert [s["stageName"] for s in body["item"]] == ["prod", "dev"]
    _assert_error(*await admin.call("GET", "/restapis/nope/stages"), 404, "NotFoundException")


async def test_flush_stage_cache(admin: Admin) -> None:
    status, body, _ = await admin.call("DELETE", "/restapis/petstore/stages/prod/cache/data")
    assert (status, body) == (202, b"")
    assert admin.flushed == [("petstore", "prod")]
    _assert_error(
        *await admin.call("DELETE", "/restapis/petstore/stages/qa/cache/data"),
        404,
        "NotFoundException",
    )


async def test_api_key_lifecycle(admin: Admin) -> None:
    status, key, _ = await admin.call(
        "POST", "/apikeys", {"name": "alice", "value": "a" * 20, "enabled": True}
    )
    assert status == 201
    assert key["name"] == "alice" and key["value"] == "a" * 20 and key["enabled"] is True
    assert isinstance(key["createdDate"], int) and len(key["id"]) == 10

    status, body, _ = await admin.call("GET", "/apikeys")
    assert status == 200 and [k["id"] for k in body["item"]] == [key["id"]]
    assert "value" not in body["item"][0]
    _, body, _ = await admin.call("GET", "/apikeys", includeValues="true")
    assert body["item"][0]["value"] == "a" * 20

    status, got, _ = await admin.call("GET", f"/apikeys/{key['id']}")
    assert status == 200 and got["name"] == "alice" and "value" not in got

    status, patched, _ = await admin.call(
        "PATCH",
        f"/apikeys/{key['id']}",
        {"patchOperations": [{"op": "replace", "path": "/enabled", "value": "false"}]},
    )
    assert status == 200 and patched["enabled"] is False
    assert admin.registry.authenticate("a" * 20).enabled is False  # type: ignore[union-attr]

    status, body, _ = await admin.call("DELETE", f"/apikeys/{key['id']}")
    assert status == 202
    _assert_error(*await admin.call("GET", f"/apikeys/{key['id']}"), 404, "NotFoundException")
    assert admin.registry.authenticate("a" * 20) is None


async def test_create_key_defaults_like_aws(admin: Admin) -> None:
    status, key, _ = await admin.call("POST", "/apikeys", {"name": "gen"})
    assert status == 201 and len(key["value"]) == 40
    assert key["enabled"] is False  # CreateApiKey's default


async def test_api_key_errors(admin: Admin) -> None:
    await admin.call("POST", "/apikeys", {"name": "a", "value": "v" * 20})
    _assert_error(
        *await admin.call("POST", "/apikeys", {"name": "b", "value": "v" * 20}),
        409,
        "ConflictException",
    )
    _assert_error(
        *await admin.call("POST", "/apikeys", {"name": "c", "value": "short"}),
        400,
        "BadRequestException",
    )
    _assert_error(*await admin.call("GET", "/apikeys/nope"), 404, "NotFoundException")
    _assert_error(
        *await admin.call(
            "PATCH", "/apikeys/nope", {"patchOperations": [{"op": "replace", "path": "/name"}]}
        ),
        404,
        "NotFoundException",
    )
    async with admin.http.post(admin.url + "/apikeys", data=b"{not json") as resp:
        assert resp.status == 400 and resp.headers["x-amzn-ErrorType"] == "BadRequestException"
    _assert_error(*await admin.call("GET", "/nowhere"), 404, "NotFoundException")


async def test_usage_plans_and_keys(admin: Admin) -> None:
    status, plan, _ = await admin.call(
        "POST",
        "/usageplans",
        {
            "name": "Basic",
            "description": "d",
            "apiStages": [
                {
                    "apiId": "petstore",
                    "stage": "prod",
                    "throttle": {"/pets/GET": {"rateLimit": 5, "burstLimit": 10}},
                }
            ],
            "throttle": {"rateLimit": 100.0, "burstLimit": 200},
            "quota": {"limit": 1000, "period": "DAY", "offset": 0},
        },
    )
    assert status == 201
    assert plan == {
        "id": plan["id"],
        "name": "Basic",
        "description": "d",
        "apiStages": [
            {
                "apiId": "petstore",
                "stage": "prod",
                "throttle": {"/pets/GET": {"rateLimit": 5.0, "burstLimit": 10}},
            }
        ],
        "throttle": {"rateLimit": 100.0, "burstLimit": 200},
        "quota": {"limit": 1000, "offset": 0, "period": "DAY"},
    }
    assert (await admin.call("GET", f"/usageplans/{plan['id']}"))[:2] == (200, plan)
    assert (await admin.call("GET", "/usageplans"))[1] == {"item": [plan]}

    _, key, _ = await admin.call("POST", "/apikeys", {"name": "k", "value": "k" * 20})
    status, pk, _ = await admin.call(
        "POST", f"/usageplans/{plan['id']}/keys", {"keyId": key["id"], "keyType": "API_KEY"}
    )
    assert status == 201
    assert pk == {"id": key["id"], "type": "API_KEY", "value": "k" * 20, "name": "k"}
    assert admin.registry.plan_for(key["id"], "petstore", "prod") is not None
    assert (await admin.call("GET", f"/usageplans/{plan['id']}/keys"))[1] == {"item": [pk]}
    assert (await admin.call("GET", "/usageplans", keyId=key["id"]))[1] == {"item": [plan]}
    assert (await admin.call("GET", "/usageplans", keyId="other"))[1] == {"item": []}

    _assert_error(
        *await admin.call(
            "POST", f"/usageplans/{plan['id']}/keys", {"keyId": key["id"], "keyType": "API_KEY"}
        ),
        409,
        "ConflictException",
    )
    status, _, _ = await admin.call("DELETE", f"/usageplans/{plan['id']}/keys/{key['id']}")
    assert status == 202
    assert admin.registry.plan_for(key["id"], "petstore", "prod") is None
    _assert_error(
        *await admin.call("DELETE", f"/usageplans/{plan['id']}/keys/{key['id']}"),
        404,
        "NotFoundException",
    )


async def test_one_plan_per_stage_is_a_409(admin: Admin) -> None:
    stages = [{"apiId": "petstore", "stage": "prod"}]
    _, p1, _ = await admin.call("POST", "/usageplans", {"name": "P1", "apiStages": stages})
    _, p2, _ = await admin.call("POST", "/usageplans", {"name": "P2", "apiStages": stages})
    _, key, _ = await admin.call("POST", "/apikeys", {"name": "k"})
    body = {"keyId": key["id"], "keyType": "API_KEY"}
    assert (await admin.call("POST", f"/usageplans/{p1['id']}/keys", body))[0] == 201
    _assert_error(
        *await admin.call("POST", f"/usageplans/{p2['id']}/keys", body), 409, "ConflictException"
    )


async def test_usage_plan_errors(admin: Admin) -> None:
    _assert_error(*await admin.call("POST", "/usageplans", {}), 400, "BadRequestException")
    _assert_error(
        *await admin.call(
            "POST",
            "/usageplans",
            {"name": "x", "apiStages": [{"apiId": "petstore", "stage": "qa"}]},
        ),
        404,
        "NotFoundException",
    )
    _assert_error(
        *await admin.call(
            "POST", "/usageplans", {"name": "x", "quota": {"limit": 5, "period": "YEAR"}}
        ),
        400,
        "BadRequestException",
    )
    _assert_error(*await admin.call("GET", "/usageplans/nope"), 404, "NotFoundException")
    _, plan, _ = await admin.call("POST", "/usageplans", {"name": "x"})
    _assert_error(
        *await admin.call(
            "POST", f"/usageplans/{plan['id']}/keys", {"keyId": "nope", "keyType": "API_KEY"}
        ),
        404,
        "NotFoundException",
    )
    _assert_error(
        *await admin.call(
            "POST", f"/usageplans/{plan['id']}/keys", {"keyId": "x", "keyType": "OTHER"}
        ),
        400,
        "BadRequestException",
    )


async def test_usage_counts_and_remaining(admin: Admin) -> None:
    plan = await admin.registry.create_plan(
        "Weekly", api_stages=[plan_stage("petstore", "prod")], quota=(100, "WEEK", 0)
    )
    key = await admin.registry.create_key("k", "u" * 20)
    await admin.registry.add_plan_key(plan.id, key.id)
    d = datetime.date
    # 2026-11-16 is a Monday: the week 11-16..11-22 holds 11-18..11-22; 11-23 starts a new week.
    admin.usage.counts.update(
        {
            (plan.id, key.id, d(2026, 11, 16)): 30,  # before startDate, same week
            (plan.id, key.id, d(2026, 11, 18)): 5,
            (plan.id, key.id, d(2026, 11, 19)): 80,
            (plan.id, key.id, d(2026, 11, 23)): 7,
        }
    )
    status, body, _ = await admin.call(
        "GET",
        f"/usageplans/{plan.id}/usage",
        keyId=key.id,
        startDate="2026-11-18",
        endDate="2026-11-23",
    )
    assert status == 200
    assert body == {
        "usagePlanId": plan.id,
        "startDate": "2026-11-18",
        "endDate": "2026-11-23",
        "position": None,
        "values": {key.id: [[5, 65], [80, 0], [0, 0], [0, 0], [0, 0], [7, 93]]},
    }
    # without keyId: every key of the plan
    _, body, _ = await admin.call(
        "GET", f"/usageplans/{plan.id}/usage", startDate="2026-11-23", endDate="2026-11-23"
    )
    assert body["values"] == {key.id: [[7, 93]]}


async def test_usage_without_quota_and_errors(admin: Admin) -> None:
    plan = await admin.registry.create_plan("Free", api_stages=[plan_stage("petstore", "dev")])
    key = await admin.registry.create_key("k", "f" * 20)
    await admin.registry.add_plan_key(plan.id, key.id)
    admin.usage.counts[(plan.id, key.id, datetime.date(2026, 1, 2))] = 3
    _, body, _ = await admin.call(
        "GET", f"/usageplans/{plan.id}/usage", startDate="2026-01-01", endDate="2026-01-02"
    )
    assert body["values"] == {key.id: [[0, None], [3, None]]}
    path = f"/usageplans/{plan.id}/usage"
    _assert_error(
        *await admin.call("GET", path, startDate="2026-01-01"), 400, "BadRequestException"
    )
    _assert_error(
        *await admin.call("GET", path, startDate="2026-01-02", endDate="2026-01-01"),
        400,
        "BadRequestException",
    )
    _assert_error(
        *await admin.call("GET", path, startDate="2026-13-01", endDate="2026-13-02"),
        400,
        "BadRequestException",
    )
    _assert_error(
        *await admin.call("GET", path, keyId="nope", startDate="2026-01-01", endDate="2026-01-01"),
        404,
        "NotFoundException",
    )


async def test_paging(admin: Admin) -> None:
    ids = sorted([(await admin.registry.create_key(f"k{i}")).id for i in range(3)])
    _, page1, _ = await admin.call("GET", "/apikeys", limit="2")
    assert [k["id"] for k in page1["item"]] == ids[:2] and page1["position"] == ids[2]
    _, page2, _ = await admin.call("GET", "/apikeys", limit="2", position=page1["position"])
    assert [k["id"] for k in page2["item"]] == ids[2:] and "position" not in page2
    _assert_error(*await admin.call("GET", "/apikeys", limit="0"), 400, "BadRequestException")


async def test_admin_token(guarded: Admin) -> None:
    assert (await guarded.call("GET", "/healthz"))[0] == 200  # open to probes
    for method, path in [("GET", "/metrics"), ("GET", "/apikeys"), ("POST", "/usageplans")]:
        _assert_error(*await guarded.call(method, path), 401, "UnauthorizedException")
        _assert_error(
            *await guarded.call(method, path, token="wrong"), 401, "UnauthorizedException"
        )
    assert (await guarded.call("GET", "/apikeys", token=TOKEN))[:2] == (200, {"item": []})
    assert (await guarded.call("GET", "/metrics", token=TOKEN))[0] == 200
