"""The Registry over both stores: the same class runs on memory:// and on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

# The seeds are the config file's own objects: the Registry reads them by their field names
# (ratelimit never imports proxy; tests may).
from proxy.config.model import (
    ApiKey,
    QuotaSettings,
    ThrottleSettings,
    UsagePlan,
    UsagePlanStage,
)
from ratelimit.records import (
    BadRequest,
    Conflict,
    KeyRecord,
    Mutation,
    NotFound,
    plan_stage,
)
from ratelimit.registry import Registry
from ratelimit.storage.registry import registry_store_from_url
from ratelimit.storage.registry.redis import RedisRegistryStore
from tests.support.stores import Store

ALICE = "alice-0123456789abcdefghij"
BOB = "bob-0123456789abcdefghijkl"

SEED_KEYS = (
    ApiKey(id="alice", value=ALICE, name="Alice"),
    ApiKey(id="bob", value=BOB, name="Bob", enabled=False),
)
SEED_PLANS = (
    UsagePlan(
        id="basic",
        name="Basic",
        api_stages=(UsagePlanStage("petstore", "prod", {"/pets/GET": ThrottleSettings(5.0, 10)}),),
        throttle=ThrottleSettings(100.0, 200),
        quota=QuotaSettings(10_000, "DAY"),
        api_keys=("alice",),
    ),
)

MakeRegistry = Callable[[], Awaitable[Registry]]


async def _eventually(check: Callable[[], bool]) -> None:
    """Propagation between instances (pub/sub), bounded at 2 s; not a wait for a refill."""
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    assert check()


@pytest.fixture
async def make_registry(store: Store) -> AsyncIterator[MakeRegistry]:
    """Registries sharing one store: the same object (memory) or the same Redis."""
    registries: list[Registry] = []
    shared = registry_store_from_url(store.url) if store.backend == "memory" else None

    async def make() -> Registry:
        registry = Registry(
            shared if shared is not None else registry_store_from_url(store.url, poll_interval=0.2)
        )
        registries.append(registry)
        await registry.start(SEED_KEYS, SEED_PLANS)
        return registry

    yield make
    for registry in registries:
        await registry.aclose()


class TestRegistry:
    async def test_seeding_loads_keys_and_plans(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        alice = await reg.get_key("alice")
        assert (alice.name, alice.value, alice.enabled) == ("Alice", ALICE, True)
        plan = await reg.get_plan("basic")
        assert plan.throttle == (100.0, 200)
        assert plan.quota == (10_000, "DAY", 0)
        assert plan.key_ids == {"alice"}
        assert dict(plan.api_stages[0].throttle) == {"/pets/GET": (5.0, 10)}

    async def test_reseeding_keeps_runtime_memberships_and_dates(
        self, make_registry: MakeRegistry
    ) -> None:
        reg = await make_registry()
        await reg.add_plan_key("basic", "bob")
        created = (await reg.get_key("alice")).created_date
        second = await make_registry()  # a restarting instance seeds the same file again
        assert (await second.get_plan("basic")).key_ids == {"alice", "bob"}
        assert (await second.get_key("alice")).created_date == created

    async def test_authenticate(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        alice = reg.authenticate(ALICE)
        assert alice is not None and alice.id == "alice"
        assert reg.authenticate(None) is None
        assert reg.authenticate("") is None
        assert reg.authenticate(ALICE[:-1]) is None
        assert reg.authenticate(ALICE[:-1] + "X") is None
        assert reg.authenticate(ALICE + "x") is None
        bob = reg.authenticate(BOB)  # disabled keys are found; the caller checks .enabled
        assert bob is not None and not bob.enabled

    async def test_plan_for(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        plan = reg.plan_for("alice", "petstore", "prod")
        assert plan is not None and plan.id == "basic"
        assert reg.plan_for("alice", "petstore", "dev") is None
        assert reg.plan_for("alice", "other", "prod") is None
        assert reg.plan_for("bob", "petstore", "prod") is None

    async def test_create_key_generates_id_and_value(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        key = await reg.create_key("carol")
        assert len(key.id) == 10 and key.id.isalnum() and key.id.lower() == key.id
        assert len(key.value) == 40
        assert reg.authenticate(key.value) == key
        assert await reg.get_key(key.id) == key
        assert [k.id for k in await reg.list_keys(name_query="car")] == [key.id]

    async def test_create_key_rules(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        with pytest.raises(BadRequest):
            await reg.create_key("short", "x" * 19)
        with pytest.raises(BadRequest):
            await reg.create_key("long", "x" * 129)
        with pytest.raises(Conflict):
            await reg.create_key("dup", ALICE)
        assert (await reg.create_key("edge", "y" * 128)).value == "y" * 128

    async def test_update_key(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        updated = await reg.update_key(
            "alice",
            [
                {"op": "replace", "path": "/enabled", "value": "false"},
                {"op": "replace", "path": "/name", "value": "Alice B"},
                {"op": "replace", "path": "/description", "value": "d"},
            ],
        )
        assert (updated.enabled, updated.name, updated.description) == (False, "Alice B", "d")
        assert reg.authenticate(ALICE) == updated
        with pytest.raises(BadRequest):
            await reg.update_key("alice", [{"op": "replace", "path": "/value", "value": "x"}])
        with pytest.raises(BadRequest):
            await reg.update_key("alice", [{"op": "replace", "path": "/enabled", "value": "no"}])
        with pytest.raises(NotFound):
            await reg.update_key("nobody", [{"op": "replace", "path": "/name", "value": "x"}])

    async def test_delete_key_removes_memberships(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        await reg.delete_key("alice")
        assert reg.authenticate(ALICE) is None
        assert reg.plan_for("alice", "petstore", "prod") is None
        assert (await reg.get_plan("basic")).key_ids == frozenset()
        with pytest.raises(NotFound):
            await reg.delete_key("alice")

    async def test_plans_and_plan_keys(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        plan = await reg.create_plan(
            "Gold", api_stages=[plan_stage("petstore", "dev")], quota=(5, "MONTH", 0)
        )
        assert len(plan.id) == 6
        await reg.add_plan_key(plan.id, "bob")
        assert reg.plan_for("bob", "petstore", "dev") == await reg.get_plan(plan.id)
        assert [k.id for k in await reg.list_plan_keys(plan.id)] == ["bob"]
        assert [p.id for p in await reg.list_plans(key_id="bob")] == [plan.id]
        with pytest.raises(Conflict):
            await reg.add_plan_key(plan.id, "bob")
        await reg.remove_plan_key(plan.id, "bob")
        assert reg.plan_for("bob", "petstore", "dev") is None
        with pytest.raises(NotFound):
            await reg.remove_plan_key(plan.id, "bob")
        with pytest.raises(NotFound):
            await reg.add_plan_key("nope", "bob")
        with pytest.raises(BadRequest):
            await reg.create_plan("Bad", quota=(5, "YEAR", 0))

    async def test_one_plan_per_api_stage(self, make_registry: MakeRegistry) -> None:
        reg = await make_registry()
        other = await reg.create_plan(
            "Other", api_stages=[plan_stage("petstore", "prod"), plan_stage("petstore", "dev")]
        )
        with pytest.raises(Conflict, match="petstore:prod"):
            await reg.add_plan_key(other.id, "alice")
        elsewhere = await reg.create_plan("Dev only", api_stages=[plan_stage("petstore", "dev")])
        await reg.add_plan_key(elsewhere.id, "alice")  # another stage: allowed

    async def test_concurrent_conflicting_adds_one_wins(self, make_registry: MakeRegistry) -> None:
        a, b = await make_registry(), await make_registry()
        p1 = await a.create_plan("P1", api_stages=[plan_stage("petstore", "dev")])
        p2 = await a.create_plan("P2", api_stages=[plan_stage("petstore", "dev")])
        results = await asyncio.gather(
            a.add_plan_key(p1.id, "bob"), b.add_plan_key(p2.id, "bob"), return_exceptions=True
        )
        assert sum(isinstance(r, Conflict) for r in results) == 1
        assert sum(not isinstance(r, BaseException) for r in results) == 1

    async def test_concurrent_same_value_one_wins(self, make_registry: MakeRegistry) -> None:
        a, b = await make_registry(), await make_registry()
        value = "v" * 30
        results = await asyncio.gather(
            a.create_key("one", value), b.create_key("two", value), return_exceptions=True
        )
        assert sum(isinstance(r, Conflict) for r in results) == 1

    async def test_changes_reach_every_instance(self, make_registry: MakeRegistry) -> None:
        a, b = await make_registry(), await make_registry()
        key = await a.create_key("dave", "dave-0123456789abcdefghij", enabled=True)
        await _eventually(lambda: b.authenticate("dave-0123456789abcdefghij") is not None)
        plan = await b.create_plan("P", api_stages=[plan_stage("petstore", "dev")])
        await b.add_plan_key(plan.id, key.id)
        await _eventually(lambda: a.plan_for(key.id, "petstore", "dev") is not None)
        await a.update_key(key.id, [{"op": "replace", "path": "/enabled", "value": "false"}])
        await _eventually(lambda: not b.authenticate("dave-0123456789abcdefghij").enabled)  # type: ignore[union-attr]
        await b.delete_key(key.id)
        await _eventually(lambda: a.authenticate("dave-0123456789abcdefghij") is None)


async def test_redis_missed_message_is_caught_by_the_version_poll(redis_url: str) -> None:
    """A commit whose publish never happened still reaches other instances within the poll."""
    writer = RedisRegistryStore.from_url(redis_url)
    reader = Registry(RedisRegistryStore.from_url(redis_url, poll_interval=0.1))
    try:
        await reader.start()
        lost = KeyRecord("lost", "", "lost-0123456789abcdefghij", True, 0, 0)
        # The write without its publish, as if the message were lost.
        await writer._commit(lambda _: Mutation(put_keys=(lost,)))
        await _eventually(lambda: reader.authenticate("lost-0123456789abcdefghij") is not None)
    finally:
        await reader.aclose()
        await writer.aclose()
