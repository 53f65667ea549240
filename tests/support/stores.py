"""The store matrix's backends and their ``pytest.param``s (the fixtures are in
tests/conftest.py): ``memory``, ``redis`` and ``redis_cluster``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

STORE_BACKENDS = ("memory", "redis", "redis_cluster")
_BACKEND_MARKS: dict[str, tuple[pytest.MarkDecorator, ...]] = {
    "memory": (),
    "redis": (pytest.mark.redis,),
    "redis_cluster": (pytest.mark.redis_cluster,),
}


@dataclass(frozen=True)
class Store:
    """One point of the matrix: a backend, a module's own variant of it ("" for none, e.g.
    "near" for a Redis cache with a near cache) and the URL that selects it."""

    backend: str  # one of STORE_BACKENDS
    variant: str
    url: str


def store_params(*names: str) -> list[Any]:
    """``pytest.param``s for ``store``: backends by name, each optionally with a variant after
    a hyphen (``"redis-near"``), Redis ones marked ``redis`` / ``redis_cluster``."""
    params = []
    for name in names:
        backend = name.partition("-")[0]
        if backend not in STORE_BACKENDS:
            raise ValueError(f"unknown store backend {backend!r}: one of {STORE_BACKENDS}")
        params.append(pytest.param(name, id=name, marks=_BACKEND_MARKS[backend]))
    return params


def store_from(request: pytest.FixtureRequest) -> Store:
    """The ``Store`` a fixture parametrised by ``store_params`` stands for (flushed Redis)."""
    backend, _, variant = str(request.param).partition("-")
    if backend == "memory":
        return Store(backend, variant, "memory://")
    return Store(backend, variant, str(request.getfixturevalue(f"{backend}_url")))
