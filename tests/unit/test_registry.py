"""Registry rules that need no shared store: records, dates, validation, the store factory."""

from __future__ import annotations

import pytest

from ratelimit.clock import ManualClock
from ratelimit.records import (
    BadRequest,
    KeyRecord,
    Mutation,
    RegistryState,
    apply_mutation,
    plan_stage,
)
from ratelimit.registry import Registry
from ratelimit.storage.registry import MemoryRegistryStore, registry_store_from_url


def test_apply_mutation_bumps_the_version_and_leaves_the_old_state() -> None:
    key = KeyRecord("k1", "n", "v" * 20, True, 1, 1)
    before = RegistryState()
    after = apply_mutation(before, Mutation(put_keys=(key,)))
    assert (after.version, dict(after.keys)) == (1, {"k1": key})
    assert before.version == 0 and dict(before.keys) == {}
    gone = apply_mutation(after, Mutation(delete_keys=("k1",)))
    assert (gone.version, dict(gone.keys)) == (2, {})


async def test_dates_come_from_the_injected_clock() -> None:
    clock = ManualClock(1_700_000_000.0)
    reg = Registry(MemoryRegistryStore(), clock=clock)
    await reg.start()
    key = await reg.create_key("k")
    assert key.created_date == key.last_updated_date == 1_700_000_000
    clock.advance(60)
    updated = await reg.update_key(key.id, [{"op": "replace", "path": "/name", "value": "n"}])
    assert (updated.created_date, updated.last_updated_date) == (1_700_000_000, 1_700_000_060)
    await reg.aclose()


async def test_authenticate_matches_whole_values_only() -> None:
    reg = Registry(MemoryRegistryStore())
    await reg.start()
    value = "k" * 20
    key = await reg.create_key("k", value)
    assert reg.authenticate(value) == key
    for guess in ("k" * 19, "k" * 21, "K" * 20, "k" * 19 + "\u00e9", " " + value):
        assert reg.authenticate(guess) is None
    await reg.aclose()


@pytest.mark.parametrize(
    "value", ["x" * 19, "x" * 129, "x" * 19 + " ", "x" * 19 + "\u00e9", "x" * 10 + "\n" * 10]
)
async def test_key_values_are_20_to_128_visible_ascii(value: str) -> None:
    reg = Registry(MemoryRegistryStore())
    await reg.start()
    with pytest.raises(BadRequest):
        await reg.create_key("k", value)
    await reg.aclose()


async def test_plan_validation() -> None:
    reg = Registry(MemoryRegistryStore())
    await reg.start()
    with pytest.raises(BadRequest):
        await reg.create_plan("")
    with pytest.raises(BadRequest):
        await reg.create_plan("p", api_stages=[plan_stage("a", "s"), plan_stage("a", "s")])
    with pytest.raises(BadRequest):
        await reg.create_plan("p", throttle=(-1.0, 5))
    with pytest.raises(BadRequest):
        await reg.create_plan("p", api_stages=[plan_stage("a", "s", {"/x/GET": (1.0, -2)})])
    with pytest.raises(BadRequest):
        await reg.create_plan("p", quota=(10, "DAY", -1))
    await reg.aclose()


def test_store_from_url() -> None:
    assert isinstance(registry_store_from_url("memory://"), MemoryRegistryStore)
    with pytest.raises(ValueError, match="memory://"):
        registry_store_from_url("mongodb://x")
