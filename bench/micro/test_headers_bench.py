"""Micro-benchmarks of per-request header work (excluded from `make test`; run with
`.venv/bin/pytest bench/micro -m benchmark`)."""

from __future__ import annotations

import pytest

from proxy.headers import forwardable, remap_response, request_ids

CLIENT = [(b"Host", b"api.example.com"), (b"User-Agent", b"curl/8.5"), (b"Accept", b"*/*"),
          (b"Connection", b"keep-alive"), (b"X-Api-Key", b"k" * 30),
          (b"Content-Type", b"application/json"), (b"Content-Length", b"42")]
BACKEND = [("Content-Type", "application/json"), ("Content-Length", "256"),
           ("Date", "Sun, 22 Nov 2026 03:00:00 GMT"), ("Server", "nginx"),
           ("Connection", "keep-alive"), ("ETag", '"abc"'), ("Cache-Control", "max-age=60")]


@pytest.mark.benchmark
def test_forwardable_request_headers(benchmark) -> None:  # type: ignore[no-untyped-def]
    out = benchmark(forwardable, CLIENT)
    assert [k for k, _ in out] == ["User-Agent", "Accept", "X-Api-Key", "Content-Type"]


@pytest.mark.benchmark
def test_remap_response_headers(benchmark) -> None:  # type: ignore[no-untyped-def]
    out = benchmark(remap_response, BACKEND)
    assert ("x-amzn-Remapped-Server", "nginx") in out


@pytest.mark.benchmark
def test_request_ids(benchmark) -> None:  # type: ignore[no-untyped-def]
    rid, ext, _ = benchmark(request_ids, None, 1_700_000_000)
    assert len(rid) == 36 and len(ext) == 16
