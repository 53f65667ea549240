"""Per-request cache work without I/O: run with
``.venv/bin/pytest bench/micro/test_cache_keys_bench.py -m benchmark -p no:randomly``."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, MultiDict
from pytest_benchmark.fixture import BenchmarkFixture

from cache import CachedResponse, CacheKeySpec, invalidation

SPEC = CacheKeySpec(
    api_id="petstore",
    stage="prod",
    namespace="abc123",
    http_method="GET",
    key_parameters=(
        "method.request.path.petId",
        "method.request.querystring.type",
        "method.request.header.X-Tenant",
    ),
)
HEADERS = CIMultiDict(
    {
        "Host": "petstore.execute-api.local",
        "User-Agent": "wrk",
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate, br",
        "X-Tenant": "acme",
    }
)
QUERY = MultiDict({"type": "dog", "page": "2"})
RESP = CachedResponse(200, (("Content-Type", "application/json"),) * 4, b"x" * 1024)
ENCODED = RESP.encode()


@pytest.mark.benchmark
def test_key_three_parameters(benchmark: BenchmarkFixture) -> None:
    benchmark(SPEC.key, {"petId": "42"}, QUERY, HEADERS)


@pytest.mark.benchmark
def test_invalidation_without_cache_control(benchmark: BenchmarkFixture) -> None:
    benchmark(
        invalidation,
        None,
        require_authorization=True,
        authorized=False,
        strategy="SUCCEED_WITH_RESPONSE_HEADER",
    )


@pytest.mark.benchmark
def test_invalidation_parse(benchmark: BenchmarkFixture) -> None:
    benchmark(
        invalidation,
        "no-cache, max-age=0",
        require_authorization=True,
        authorized=False,
        strategy="SUCCEED_WITH_RESPONSE_HEADER",
    )


@pytest.mark.benchmark
def test_encode_1kib(benchmark: BenchmarkFixture) -> None:
    benchmark(RESP.encode)


@pytest.mark.benchmark
def test_decode_1kib(benchmark: BenchmarkFixture) -> None:
    benchmark(CachedResponse.decode, ENCODED)
