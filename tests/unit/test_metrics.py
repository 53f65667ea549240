from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from proxy.context import RequestContext
from proxy.metrics import _AGGREGATE_EVERY, LATENCY_BUCKETS, METRIC_NAMES, THROTTLE_LEVELS, Metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
M = {"api": "petstore", "stage": "prod", "resource": "/pets/{petId}", "method": "GET"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: Metrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def make_ctx(status: int, *, latency_ms: float | None = 3.0,
             integration_ms: float | None = None, cache: str | None = None) -> RequestContext:
    ctx = RequestContext("req", "ext", time.perf_counter(), 1_700_000_000_000)
    ctx.status = status
    ctx.response_latency_ms = latency_ms
    ctx.integration_latency_ms = integration_ms
    ctx.cache_status = cache
    return ctx


def test_requests_counted_by_status_and_error_class() -> None:
    metrics = Metrics()
    mm = metrics.method(*M.values())
    for status in (200, 200, 200, 404, 429, 500, 502, 504, 302):
        metrics.observe(make_ctx(status), mm)
    s = scrape(metrics)
    assert value(s, "sluice_requests_total", **M, status="200") == 3
    assert value(s, "sluice_requests_total", **M, status="404") == 1
    assert value(s, "sluice_requests_total", **M, status="429") == 1
    assert value(s, "sluice_requests_total", **M, status="502") == 1
    assert value(s, "sluice_requests_total", **M, status="302") == 1
    assert value(s, "sluice_requests_total", **M, status="201") is None
    assert value(s, "sluice_4xx_errors_total", **M) == 2
    assert value(s, "sluice_5xx_errors_total", **M) == 3


def test_latency_histogram_in_seconds_from_response_latency() -> None:
    metrics = Metrics()
    mm = metrics.method(*M.values())
    for ms in (0.3, 4.0, 4.0, 20_000.0, 40_000.0):
        metrics.observe(make_ctx(200, latency_ms=ms), mm)
    s = scrape(metrics)
    assert value(s, "sluice_latency_seconds_count", **M) == 5
    assert value(s, "sluice_latency_seconds_sum", **M) == pytest.approx(60.0083)
    assert value(s, "sluice_latency_seconds_bucket", **M, le="0.0005") == 1
    assert value(s, "sluice_latency_seconds_bucket", **M, le="0.0025") == 1
    assert value(s, "sluice_latency_seconds_bucket", **M, le="0.005") == 3
    assert value(s, "sluice_latency_seconds_bucket", **M, le="10.0") == 3
    assert value(s, "sluice_latency_seconds_bucket", **M, le="30.0") == 4
    assert value(s, "sluice_latency_seconds_bucket", **M, le="+Inf") == 5
    les = {dict(k[1])["le"] for k in s if k[0] == "sluice_latency_seconds_bucket"}
    assert les == {*(str(b) for b in LATENCY_BUCKETS), "+Inf"}


def test_latency_measured_from_start_when_response_latency_unset() -> None:
    metrics = Metrics()
    mm = metrics.method(*M.values())
    ctx = make_ctx(200, latency_ms=None)
    ctx.start = time.perf_counter() - 2.0  # received two seconds ago
    metrics.observe(ctx, mm)
    s = scrape(metrics)
    assert value(s, "sluice_latency_seconds_count", **M) == 1
    assert value(s, "sluice_latency_seconds_sum", **M) >= 2.0
    assert value(s, "sluice_latency_seconds_bucket", **M, le="1.0") == 0


def test_integration_latency_only_when_an_integration_was_called() -> None:
    metrics = Metrics()
    mm = metrics.method(*M.values())
    metrics.observe(make_ctx(200, integration_ms=12.0), mm)
    metrics.observe(make_ctx(200, integration_ms=None, cache="hit"), mm)
    metrics.observe(make_ctx(403, integration_ms=None), mm)
    metrics.observe(make_ctx(200, integration_ms=30.0, cache="miss"), mm)
    s = scrape(metrics)
    assert value(s, "sluice_latency_seconds_count", **M) == 4
    assert value(s, "sluice_integration_latency_seconds_count", **M) == 2
    assert value(s, "sluice_integration_latency_seconds_sum", **M) == pytest.approx(0.042)
    assert value(s, "sluice_integration_latency_seconds_bucket", **M, le="0.025") == 1


def test_cache_hits_and_misses() -> None:
    metrics = Metrics()
    mm = metrics.method(*M.values())
    for cache in ("hit", "hit", "hit", "miss", None, None):
        metrics.observe(make_ctx(200, cache=cache), mm)
    s = scrape(metrics)
    assert value(s, "sluice_cache_hits_total", **M) == 3
    assert value(s, "sluice_cache_misses_total", **M) == 1
    assert value(s, "sluice_requests_total", **M, status="200") == 6


def test_throttled_by_level() -> None:
    metrics = Metrics()
    for level, n in zip(THROTTLE_LEVELS, (1, 2, 3, 4, 5), strict=True):
        for _ in range(n):
            metrics.throttled("petstore", "prod", level)
    metrics.throttled("petstore", "dev", "stage")
    s = scrape(metrics)
    for level, n in zip(THROTTLE_LEVELS, (1, 2, 3, 4, 5), strict=True):
        got = value(s, "sluice_throttled_total", api="petstore", stage="prod", level=level)
        assert got == n
    assert value(s, "sluice_throttled_total", api="petstore", stage="dev", level="stage") == 1
    with pytest.raises(ValueError, match="throttle level 'bogus'"):
        metrics.throttled("petstore", "prod", "bogus")


def test_metrics_disabled_and_unmatched_requests_use_dash_labels() -> None:
    metrics = Metrics()
    dash = metrics.method("petstore", "prod", "-", "-")
    assert metrics.method("petstore", "prod", "-", "-") is dash
    metrics.observe(make_ctx(404), dash)
    metrics.observe(make_ctx(200), dash)
    s = scrape(metrics)
    d = {"api": "petstore", "stage": "prod", "resource": "-", "method": "-"}
    assert value(s, "sluice_requests_total", **d, status="404") == 1
    assert value(s, "sluice_requests_total", **d, status="200") == 1
    assert value(s, "sluice_4xx_errors_total", **d) == 1
    assert value(s, "sluice_latency_seconds_count", **d) == 2
    assert not any(dict(k[1]).get("resource") == "/pets/{petId}" for k in s)


def test_method_children_are_bound_once_and_start_at_zero() -> None:
    metrics = Metrics()
    mm = metrics.method(*M.values())
    assert metrics.method(*M.values()) is mm
    assert mm.requests(200) is mm.requests(200)
    s = scrape(metrics)  # bound at deployment load: exported as 0 before any request
    assert value(s, "sluice_4xx_errors_total", **M) == 0
    assert value(s, "sluice_latency_seconds_count", **M) == 0


def test_store_fallbacks_and_cache_errors() -> None:
    metrics = Metrics()
    metrics.store_fallbacks.inc()
    metrics.store_fallbacks.inc(4)
    metrics.cache_errors.inc()
    s = scrape(metrics)
    assert value(s, "sluice_store_fallbacks_total") == 5
    assert value(s, "sluice_cache_store_errors_total") == 1


def test_exported_families_match_the_contract() -> None:
    metrics = Metrics()
    metrics.observe(make_ctx(200), metrics.method(*M.values()))
    metrics.throttled("a", "s", "quota")
    body, _ = metrics.render()
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name, (kind, labels) in METRIC_NAMES.items():
        fam = families[name.removesuffix("_total")]
        assert fam.type == kind
        assert fam.samples, name
        for sample in fam.samples:
            if sample.name.endswith("_created"):
                continue
            assert set(sample.labels) - {"le"} == set(labels), name


def test_instances_do_not_share_values() -> None:
    a, b = Metrics(), Metrics()
    a.observe(make_ctx(200), a.method(*M.values()))
    assert value(scrape(b), "sluice_requests_total", **M, status="200") is None
    assert value(scrape(a), "sluice_requests_total", **M, status="200") == 1


def test_private_and_multiprocess_instances_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # whatever was built first, each instance keeps its own storage
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    shared = Metrics(multiprocess_dir=str(tmp_path))
    private = Metrics()
    shared.observe(make_ctx(200), shared.method(*M.values()))
    private.observe(make_ctx(500), private.method(*M.values()))
    private.observe(make_ctx(500), private.method(*M.values()))
    shared.flush()  # a worker's counts reach the files when it flushes
    assert sorted(p.name.split("_")[0] for p in tmp_path.iterdir()) == ["counter", "histogram"]
    reader = Metrics(multiprocess_dir=str(tmp_path))  # e.g. the admin listener's
    s = scrape(reader)
    assert value(s, "sluice_requests_total", **M, status="200") == 1
    assert value(s, "sluice_requests_total", **M, status="500") is None
    assert value(s, "sluice_latency_seconds_count", **M) == 1
    p = scrape(private)
    assert value(p, "sluice_requests_total", **M, status="500") == 2
    assert value(p, "sluice_requests_total", **M, status="200") is None


def test_counts_reach_the_shared_files_only_when_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    worker = Metrics(multiprocess_dir=str(tmp_path))
    mm = worker.method(*M.values())
    for status in (200, 200, 404):
        worker.observe(make_ctx(status), mm)
    reader = Metrics(multiprocess_dir=str(tmp_path))
    assert value(scrape(reader), "sluice_requests_total", **M, status="200") is None
    worker.flush()
    worker.flush()  # a second flush adds nothing
    s = scrape(reader)
    assert value(s, "sluice_requests_total", **M, status="200") == 2
    assert value(s, "sluice_4xx_errors_total", **M) == 1
    assert value(s, "sluice_latency_seconds_count", **M) == 3


# -- examples ---------------------------------------------------------------------------------

_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def _exported(name: str) -> tuple[str, ...] | None:
    """The labels of an exported series name, or None when Metrics exports no such series."""
    if name in METRIC_NAMES:
        kind, labels = METRIC_NAMES[name]
        return None if kind == "histogram" else labels
    for suffix in _HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and METRIC_NAMES.get(base, ("",))[0] == "histogram":
            labels = METRIC_NAMES[base][1]
            return (*labels, "le") if suffix == "_bucket" else labels
    return None


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((EXAMPLES / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 8
    return exprs


def test_dashboard_uses_only_exported_metric_names_and_labels() -> None:
    used: set[str] = set()
    for expr in _dashboard_exprs():
        names = re.findall(r"\bsluice_[a-z0-9_]+", expr)
        assert names, expr
        allowed: set[str] = set()
        for name in names:
            labels = _exported(name)
            assert labels is not None, f"{name} in {expr!r} is not exported"
            allowed.update(labels)
            used.add(name)
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
            for label in filter(None, (x.strip() for x in group.split(","))):
                assert label in allowed, f"label {label} in {expr!r}"
        for label in re.findall(r"[{,]\s*([a-z_]+)\s*=~?", expr):
            assert label in allowed, f"label {label} in {expr!r}"
    for required in ("sluice_requests_total", "sluice_4xx_errors_total",
                     "sluice_5xx_errors_total", "sluice_latency_seconds_bucket",
                     "sluice_integration_latency_seconds_bucket", "sluice_cache_hits_total",
                     "sluice_cache_misses_total", "sluice_throttled_total"):
        assert required in used, required
    quantile = re.compile(r"histogram_quantile\((0\.\d+)")
    assert {q for e in _dashboard_exprs() for q in quantile.findall(e)} == {"0.5", "0.9", "0.99"}


def test_exported_name_check_rejects_unknown_names() -> None:
    assert _exported("sluice_latency_seconds_bucket") is not None
    assert _exported("sluice_latency_seconds") is None  # a histogram has no bare series
    assert _exported("sluice_requests") is None
    assert _exported("sluice_requests_total_bucket") is None


def test_prometheus_example_scrapes_the_admin_listener() -> None:
    config = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    jobs = config["scrape_configs"]
    sluice = next(j for j in jobs if j["job_name"] == "sluice")
    assert sluice.get("metrics_path", "/metrics") == "/metrics"
    assert sluice["static_configs"][0]["targets"] == ["127.0.0.1:8081"]


# -- cost -------------------------------------------------------------------------------------

@pytest.mark.benchmark
@pytest.mark.parametrize("mode", ["private", "multiprocess"])
def test_observe_cost(benchmark, mode: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metrics = Metrics(multiprocess_dir=str(tmp_path) if mode == "multiprocess" else None)
    mm = metrics.method(*M.values())
    ctx = make_ctx(200, latency_ms=None, integration_ms=1.5, cache="miss")
    benchmark(metrics.observe, ctx, mm)


def test_latency_on_a_bucket_bound_counts_in_that_bucket() -> None:
    # Prometheus buckets are "less than or equal": 1 ms lands in le="0.001", not the next one
    metrics = Metrics()
    mm = metrics.method(*M.values())
    for ms in (1.0, 5.0, 5.0, 30_000.0):
        metrics.observe(make_ctx(200, latency_ms=ms, integration_ms=ms), mm)
    s = scrape(metrics)
    for name in ("sluice_latency_seconds_bucket", "sluice_integration_latency_seconds_bucket"):
        assert value(s, name, **M, le="0.0005") == 0
        assert value(s, name, **M, le="0.001") == 1
        assert value(s, name, **M, le="0.0025") == 1
        assert value(s, name, **M, le="0.005") == 3
        assert value(s, name, **M, le="10.0") == 3
        assert value(s, name, **M, le="30.0") == 4
        assert value(s, name, **M, le="+Inf") == 4


def test_records_folded_in_batches_between_scrapes_lose_nothing() -> None:
    # a process nobody scrapes keeps at most one batch of records per method
    metrics = Metrics()
    mm = metrics.method(*M.values())
    n = 3 * _AGGREGATE_EVERY + 5
    for i in range(n):
        metrics.observe(make_ctx(500 if i % 3 == 0 else 200, latency_ms=float(i % 7),
                                 cache="hit" if i % 2 else "miss"), mm)
        assert len(mm.records) < _AGGREGATE_EVERY
    s = scrape(metrics)
    fives = len(range(0, n, 3))
    assert value(s, "sluice_requests_total", **M, status="500") == fives
    assert value(s, "sluice_requests_total", **M, status="200") == n - fives
    assert value(s, "sluice_5xx_errors_total", **M) == fives
    assert value(s, "sluice_cache_hits_total", **M) == n // 2
    assert value(s, "sluice_cache_misses_total", **M) == n - n // 2
    assert value(s, "sluice_latency_seconds_count", **M) == n
    assert value(s, "sluice_latency_seconds_sum", **M) == pytest.approx(
        sum((i % 7) / 1000.0 for i in range(n)))
    zero_ms = len(range(0, n, 7))
    assert value(s, "sluice_latency_seconds_bucket", **M, le="0.0005") == zero_ms
    assert value(s, "sluice_integration_latency_seconds_count", **M) == 0
