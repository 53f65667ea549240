"""The packages' public surface: each ``__all__`` sorted, every name importable, and
``ratelimit``'s unchanged by moving the registry stores into a package."""

from __future__ import annotations

import importlib

import pytest

RATELIMIT = [
    "BadRequest",
    "Bucket",
    "Clock",
    "Conflict",
    "Decision",
    "InFlight",
    "KeyRecord",
    "LimitStorage",
    "Limiter",
    "ManualClock",
    "MemoryStorage",
    "NotFound",
    "PlanRecord",
    "PlanStage",
    "Quota",
    "Registry",
    "RegistryError",
    "RegistryStore",
    "RegistryUnavailable",
    "StorageError",
    "SystemClock",
    "account_bucket",
    "period_bounds",
    "plan_bucket",
    "plan_stage",
    "registry_store_from_url",
    "stage_bucket",
    "storage_from_url",
]


def test_ratelimit_exports_are_unchanged() -> None:
    import ratelimit

    assert ratelimit.__all__ == RATELIMIT


@pytest.mark.parametrize(
    "package", ["ratelimit", "ratelimit.storage", "ratelimit.storage.registry", "proxy.upstream"]
)
def test_all_is_sorted_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_registry_store_factory_is_the_one_ratelimit_exports() -> None:
    import ratelimit
    import ratelimit.storage.registry as stores

    assert ratelimit.registry_store_from_url is stores.registry_store_from_url
    assert ratelimit.RegistryStore is stores.RegistryStore
    assert isinstance(stores.registry_store_from_url("memory://"), stores.MemoryRegistryStore)
