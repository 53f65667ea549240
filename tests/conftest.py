"""Fixtures shared by the suite: Redis servers started on free ports, and the store matrix.

The store matrix: a test (or class) that takes ``store`` or ``store_url`` runs once per
store backend, ``memory`` and ``redis`` by default, so the memory and Redis backends pass the
same test bodies. A module that also tests Redis Cluster, or a flavour of its own, overrides
the backends with ``@pytest.mark.parametrize("store", store_params(...), indirect=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisCluster, RedisServer, redis_available
from tests.support.stores import Store, store_from, store_params


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session; each test using ``redis_url`` gets it flushed."""
    if not redis_available():
        pytest.fail("redis-server is not installed: run the tests with `make test`")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if redis_server.proc is None:  # a test stopped it
        redis_server.start()
    redis_server.flushall()
    return redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may kill and restart."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    if not redis_available():
        pytest.fail("redis-server is not installed: run the tests with `make test`")
    cluster = RedisCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    redis_cluster.flushall()
    return redis_cluster.url


# --- the store matrix (tests/support/stores.py) ----------------------------------------------


@pytest.fixture(params=store_params("memory", "redis"))
def store(request: pytest.FixtureRequest) -> Store:
    """The store backend the test runs on; Redis ones flushed before the test."""
    return store_from(request)


@pytest.fixture
def store_url(store: Store) -> str:
    return store.url
