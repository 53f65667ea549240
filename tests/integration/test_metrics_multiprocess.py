"""Multiprocess metrics: real worker processes write, the parent's render() sums them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
M = {"api": "petstore", "stage": "prod", "resource": "/pets", "method": "GET"}

# A worker: prometheus_client is imported before the directory is known, as in a server that
# imports everything and only then forks. argv: dir, then "status:latency_ms:integration_ms:cache"
# observations; "T:level" throttles; "F" a store fallback.
WORKER = """
import os, sys, time
import prometheus_client  # noqa: F401
from proxy.context import RequestContext
from proxy.metrics import Metrics

def run(metrics, items):
    mm = metrics.method("petstore", "prod", "/pets", "GET")
    for item in items:
        if item == "F":
            metrics.store_fallbacks.inc()
        elif item.startswith("T:"):
            metrics.throttled("petstore", "prod", item[2:])
        else:
            status, lat, integ, cache = item.split(":")
            ctx = RequestContext("r", "e", time.perf_counter(), 0)
            ctx.status = int(status)
            ctx.response_latency_ms = float(lat)
            ctx.integration_latency_ms = float(integ) if integ else None
            ctx.cache_status = cache or None
            metrics.observe(ctx, mm)
    metrics.flush()  # as a worker does every FLUSH_INTERVAL_S and when it stops

metrics = Metrics(multiprocess_dir=sys.argv[1])
run(metrics, sys.argv[2:])
print(os.getpid())
"""

# A master binds its metrics (deployment load), observes, then forks two workers that observe
# with the label children they inherited, as `server.workers: N` does.
FORKING_MASTER = WORKER.replace("run(metrics, sys.argv[2:])", """
metrics.method("petstore", "prod", "/pets", "GET")
run(metrics, ["200:1::"])
pids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        run(metrics, ["200:2::", "500:3::", "T:account"])
        os._exit(0)
    pids.append(pid)
for pid in pids:
    assert os.waitpid(pid, 0)[1] == 0
print(*pids)
""")


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    e["PYTHONPATH"] = str(ROOT)
    return e


def start(script: str, directory: Path, *items: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, str(directory), *items],
                            env=env(), cwd=ROOT, stdout=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    return out.strip()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(directory: Path) -> Samples:
    body, _ = Metrics(multiprocess_dir=str(directory)).render()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def mpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Metrics(multiprocess_dir=...) exports the variable for its forks; keep it out of other tests
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    d = tmp_path / "prom"
    d.mkdir()
    return d


def test_render_sums_two_concurrent_workers(mpdir: Path) -> None:
    a = start(WORKER, mpdir, "200:1:0.5:miss", "200:2::hit", "404:1::", "T:quota", "F")
    b = start(WORKER, mpdir, "200:4:3:miss", "503:40:35:", "503:50:45:", "T:quota",
              "T:usage_plan")
    pids = {finish(a), finish(b)}
    assert len(pids) == 2
    assert {p.name for p in mpdir.iterdir()} == {
        f"{kind}_{pid}.db" for pid in pids for kind in ("counter", "histogram")
    }
    s = scrape(mpdir)
    assert value(s, "sluice_requests_total", **M, status="200") == 3
    assert value(s, "sluice_requests_total", **M, status="404") == 1
    assert value(s, "sluice_requests_total", **M, status="503") == 2
    assert value(s, "sluice_4xx_errors_total", **M) == 1
    assert value(s, "sluice_5xx_errors_total", **M) == 2
    assert value(s, "sluice_latency_seconds_count", **M) == 6
    assert value(s, "sluice_latency_seconds_sum", **M) == pytest.approx(0.098)
    assert value(s, "sluice_latency_seconds_bucket", **M, le="0.001") == 2
    assert value(s, "sluice_latency_seconds_bucket", **M, le="0.005") == 4
    assert value(s, "sluice_latency_seconds_bucket", **M, le="0.05") == 6
    assert value(s, "sluice_integration_latency_seconds_count", **M) == 4
    assert value(s, "sluice_integration_latency_seconds_bucket", **M, le="0.025") == 2
    assert value(s, "sluice_cache_hits_total", **M) == 1
    assert value(s, "sluice_cache_misses_total", **M) == 2
    assert value(s, "sluice_throttled_total", api="petstore", stage="prod", level="quota") == 2
    assert value(s, "sluice_throttled_total", api="petstore", stage="prod",
                 level="usage_plan") == 1
    assert value(s, "sluice_store_fallbacks_total") == 1


def test_forked_workers_do_not_inherit_the_masters_counts(mpdir: Path) -> None:
    worker_pids = finish(start(FORKING_MASTER, mpdir)).splitlines()[0].split()
    assert len(worker_pids) == 2
    s = scrape(mpdir)
    assert value(s, "sluice_requests_total", **M, status="200") == 3  # 1 master + 1 per worker
    assert value(s, "sluice_requests_total", **M, status="500") == 2
    assert value(s, "sluice_5xx_errors_total", **M) == 2
    assert value(s, "sluice_latency_seconds_count", **M) == 5
    assert value(s, "sluice_throttled_total", api="petstore", stage="prod", level="account") == 2
    for pid in worker_pids:
        assert (mpdir / f"counter_{pid}.db").exists()


def test_a_restarted_worker_adds_on_and_totals_never_decrease(mpdir: Path) -> None:
    first = finish(start(WORKER, mpdir, "200:1::miss", "200:1::hit", "500:2:1:", "T:stage"))
    before = scrape(mpdir)
    assert value(before, "sluice_requests_total", **M, status="200") == 2
    # the first worker is gone; its replacement has another pid and starts from zero
    second = finish(start(WORKER, mpdir, "200:1::miss", "T:stage"))
    assert second != first
    after = scrape(mpdir)
    assert value(after, "sluice_requests_total", **M, status="200") == 3
    assert value(after, "sluice_requests_total", **M, status="500") == 1
    assert value(after, "sluice_cache_misses_total", **M) == 2
    assert value(after, "sluice_latency_seconds_count", **M) == 4
    assert value(after, "sluice_integration_latency_seconds_count", **M) == 1
    assert value(after, "sluice_throttled_total", api="petstore", stage="prod", level="stage") == 2
    for key, v in before.items():
        assert after[key] >= v, key
