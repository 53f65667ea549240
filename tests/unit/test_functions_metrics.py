"""Function metrics in the gateway's /metrics (one process and multiprocess) and the shared
reserved-concurrency counters across forked workers."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from proxy.functions import FunctionMetrics, InvokeResult, SharedConcurrency, Slots
from proxy.functions.metrics import _AGGREGATE_EVERY, DURATION_BUCKETS, FUNCTION_METRIC_NAMES
from proxy.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, str], float]:
    body, _ = metrics.render()
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name.startswith("sluice_lambda") and "le" not in s.labels:
                out[(s.name, s.labels.get("function", ""))] = s.value
    return out


def record(fm: FunctionMetrics) -> None:
    fm.invoked("f", InvokeResult(b"{}", None, "r1", 0.3, init_duration_ms=40.0))
    fm.invoked("f", InvokeResult(b"{}", "Unhandled", "r2", 2.0))
    fm.throttled("f")
    fm.watch("f", lambda: 3)


def test_function_metrics_render_with_the_gateways() -> None:
    metrics = Metrics()
    fm = FunctionMetrics(metrics)
    record(fm)
    fm.flush()
    got = samples(metrics)
    assert got[("sluice_lambda_invocations_total", "f")] == 2
    assert got[("sluice_lambda_errors_total", "f")] == 1
    assert got[("sluice_lambda_throttles_total", "f")] == 1
    assert got[("sluice_lambda_cold_starts_total", "f")] == 1
    assert got[("sluice_lambda_duration_seconds_count", "f")] == 2
    assert abs(got[("sluice_lambda_duration_seconds_sum", "f")] - 0.0023) < 1e-9
    assert got[("sluice_lambda_concurrent_executions", "f")] == 3
    names = {name for name, _ in got}
    for name, kind in FUNCTION_METRIC_NAMES.items():
        assert any(n.startswith(name.removesuffix("_total")) for n in names), (name, kind)


def test_durations_stay_bounded_until_a_flush() -> None:
    # one worker runs no flush loop: nothing but a scrape empties what an invocation leaves
    metrics = Metrics()
    fm = FunctionMetrics(metrics)
    n = 3 * _AGGREGATE_EVERY + 5
    for i in range(n):
        fm.invoked("f", InvokeResult(b"{}", None, f"r{i}", float(i % 7)))
        assert len(fm._counts["f"].durations) < _AGGREGATE_EVERY
    fm.flush()
    body, _ = metrics.render()
    got = {(s.name, s.labels.get("le")): s.value
           for family in text_string_to_metric_families(body.decode())
           for s in family.samples if s.name.startswith("sluice_lambda_duration_seconds")}
    assert got[("sluice_lambda_duration_seconds_count", None)] == n
    assert abs(got[("sluice_lambda_duration_seconds_sum", None)]
               - sum((i % 7) / 1000.0 for i in range(n))) < 1e-9
    zero_ms = len(range(0, n, 7))
    bucket = {le: v for (name, le), v in got.items() if name.endswith("_bucket")}
    assert bucket["0.0005"] == zero_ms
    assert bucket["0.001"] == zero_ms + len(range(1, n, 7))
    assert bucket["0.005"] == n - len(range(6, n, 7))  # the bound itself is in
    assert bucket["0.01"] == bucket["+Inf"] == n
    assert set(bucket) == {*(str(b) for b in DURATION_BUCKETS), "+Inf"}


def test_function_metrics_sum_across_worker_processes(tmp_path: Path) -> None:
    directory = str(tmp_path / "mp")
    metrics = Metrics(multiprocess_dir=directory)
    fm = FunctionMetrics(metrics)
    ctx = multiprocessing.get_context("fork")

    def worker() -> None:
        record(fm)
        fm.flush()
        os._exit(0)

    procs = [ctx.Process(target=worker) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    got = samples(metrics)
    assert got[("sluice_lambda_invocations_total", "f")] == 4
    assert got[("sluice_lambda_throttles_total", "f")] == 2


def test_local_slots() -> None:
    slots = Slots(2)
    assert slots.try_acquire() and slots.try_acquire() and not slots.try_acquire()
    slots.release()
    assert slots.in_use == 1 and slots.try_acquire()
    unbounded = Slots(None)
    assert all(unbounded.try_acquire() for _ in range(1000))


def test_shared_slots_hold_for_the_machine() -> None:
    shared = SharedConcurrency(["f", "g"])
    parent = shared.slots("f", 2)
    ctx = multiprocessing.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()

    def worker() -> None:
        child = shared.slots("f", 2)
        assert child.try_acquire() and child.try_acquire()
        ready.set()
        done.wait(10)
        child.release()
        os._exit(0)

    proc = ctx.Process(target=worker)
    proc.start()
    assert ready.wait(10)
    try:
        assert parent.in_use == 2 and parent.local == 0
        assert not parent.try_acquire()  # the other worker holds both
        assert shared.slots("g", 2).try_acquire()  # another function counts apart
        assert shared.slots("new", 1).shared is False  # unknown at fork: per process
    finally:
        done.set()
        proc.join(10)
    assert parent.in_use == 1 and parent.try_acquire()
