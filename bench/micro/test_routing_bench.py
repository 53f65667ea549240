"""Router.match cost per request shape.

Run: .venv/bin/pytest bench/micro/test_routing_bench.py -m benchmark
The figures go in the proxy/routing.py docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from proxy.routing import RouteMatch, Router

pytestmark = pytest.mark.benchmark

# A petstore-like API of 42 methods with a catch-all, so the static dict, the trie
# and the backtracking paths all see a realistic fan-out.
_RESOURCES = [
    "/",
    "/pets",
    "/pets/search",
    "/pets/{petId}",
    "/pets/{petId}/photos",
    "/pets/{petId}/photos/{photoId}",
    "/owners",
    "/owners/{ownerId}",
    "/owners/{ownerId}/pets",
    "/stores/{storeId}/inventory",
    "/orders",
    "/orders/{orderId}",
    "/users/{userId}/settings",
    "/files/{key+}",
    "/health",
    "/v1/status",
]
ROUTES = [
    *((path, method, f"{method} {path}") for path in _RESOURCES for method in ("GET", "POST")),
    *((path, "DELETE", f"DELETE {path}") for path in _RESOURCES if "{" in path),
    ("/{proxy+}", "ANY", "catch-all"),
]


@pytest.fixture(scope="module")
def router() -> Router[str]:
    return Router(ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/pets/search", "/pets/search"),
        ("GET", "/pets/123", "/pets/{petId}"),
        ("GET", "/pets/123/photos/9", "/pets/{petId}/photos/{photoId}"),
        ("GET", "/files/a/b/c.txt", "/files/{key+}"),
        ("PUT", "/pets/123/toys", "/{proxy+}"),
        ("GET", "/nope/nothing", "/{proxy+}"),
    ],
    ids=["static", "one-param", "two-params", "greedy", "backtrack-to-root-greedy", "catch-all"],
)
def test_match(
    benchmark: Callable[..., Any], router: Router[str], method: str, path: str, expected: str
) -> None:
    result = benchmark(router.match, method, path)
    assert isinstance(result, RouteMatch)
    assert result.resource_path == expected


def test_miss(benchmark: Callable[..., Any]) -> None:
    router = Router([(path, method, value) for path, method, value in ROUTES if "+" not in path])
    assert benchmark(router.match, "GET", "/nope/nothing") is None
