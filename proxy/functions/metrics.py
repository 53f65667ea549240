"""Per-function metrics under AWS/Lambda's names, as Prometheus families.

| family | type | AWS/Lambda metric |
|---|---|---|
| ``sluice_lambda_invocations_total`` | counter | Invocations |
| ``sluice_lambda_errors_total`` | counter | Errors (function errors, crashes, timeouts) |
| ``sluice_lambda_throttles_total`` | counter | Throttles (calls that waited for an instance) |
| ``sluice_lambda_duration_seconds`` | histogram | Duration |
| ``sluice_lambda_concurrent_executions`` | gauge | ConcurrentExecutions (summed over workers) |
| ``sluice_lambda_cold_starts_total`` | counter | (init phases; AWS logs them as Init Duration) |

All labelled ``function``. They live in the same registry, or the same multiprocess files, as
the gateway's own (``proxy.metrics``), so ``/metrics`` shows them with the rest. An invocation
is counted in plain Python and pushed to prometheus-client by :meth:`FunctionMetrics.flush`
(call it with ``Metrics.flush``): prometheus-client per event cost ~15 us a request in the
gateway (proxy/metrics.py), against ~0.3 us for a list append here. Durations are folded into
bucket counts every ``_AGGREGATE_EVERY`` invocations, as the gateway folds its records, so a
process nobody scrapes holds at most one batch per function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from proxy.functions.base import InvokeResult
from proxy.metrics import Metrics, add_to_histogram, into_buckets, value_class

__all__ = ["DURATION_BUCKETS", "FUNCTION_METRIC_NAMES", "FunctionMetrics"]

# Seconds: a warm invocation is ~0.2 ms, the longest Lambda timeout 900 s.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

FUNCTION_METRIC_NAMES: dict[str, str] = {
    "sluice_lambda_invocations_total": "counter",
    "sluice_lambda_errors_total": "counter",
    "sluice_lambda_throttles_total": "counter",
    "sluice_lambda_duration_seconds": "histogram",
    "sluice_lambda_concurrent_executions": "gauge",
    "sluice_lambda_cold_starts_total": "counter",
}
_HELP = {
    "sluice_lambda_invocations_total": "Function invocations (AWS/Lambda Invocations).",
    "sluice_lambda_errors_total":
        "Invocations that ended in a function error, crash or timeout (AWS/Lambda Errors).",
    "sluice_lambda_throttles_total":
        "Calls that waited for, or were refused, an instance (AWS/Lambda Throttles).",
    "sluice_lambda_duration_seconds": "Invocation duration, init excluded (AWS/Lambda Duration).",
    "sluice_lambda_concurrent_executions":
        "Invocations running now, at the last flush (AWS/Lambda ConcurrentExecutions).",
    "sluice_lambda_cold_starts_total": "Invocations that started a new instance (init phases).",
}


# Durations one function gathers before they are folded into its bucket counts, at the latest
# (the gateway's batch, proxy.metrics): at most ~32 KB of floats per function between flushes.
_AGGREGATE_EVERY = 4096


class _Counts:
    __slots__ = ("buckets", "cold", "durations", "errors", "invocations", "seconds",
                 "throttles")

    def __init__(self) -> None:
        self.invocations = self.errors = self.throttles = self.cold = 0
        self.durations: list[float] = []  # seconds, not yet in buckets
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # the last one is +Inf
        self.seconds = 0.0  # the sum of the durations in buckets

    def aggregate(self) -> None:
        """Fold the durations gathered so far into the bucket counts."""
        durations = self.durations
        if durations:
            self.durations = []
            self.seconds += sum(durations)
            into_buckets(self.buckets, durations, DURATION_BUCKETS)


def _family(name: str, kind: str, registry: Any) -> Any:
    doc = _HELP[name]
    if kind == "counter":  # prometheus-client adds the _total itself
        return Counter(name.removesuffix("_total"), doc, ["function"], registry=registry)
    if kind == "histogram":
        return Histogram(name, doc, ["function"], registry=registry, buckets=DURATION_BUCKETS)
    # each worker reports its own invocations in flight; /metrics sums the live ones
    return Gauge(name, doc, ["function"], registry=registry, multiprocess_mode="livesum")


class FunctionMetrics:
    """Counts per function, flushed into prometheus-client families."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        # the gateway's registry (single process) or multiprocess directory: the families are
        # registered where Metrics.render reads them
        registry = metrics.registry if metrics is not None else None
        directory = metrics.multiprocess_dir if metrics is not None else None
        reg = registry if directory is None else None
        self._dir = directory
        with value_class(directory):
            families = {name: _family(name, kind, reg)
                        for name, kind in FUNCTION_METRIC_NAMES.items()}
        self._invocations = families["sluice_lambda_invocations_total"]
        self._errors = families["sluice_lambda_errors_total"]
        self._throttles = families["sluice_lambda_throttles_total"]
        self._cold = families["sluice_lambda_cold_starts_total"]
        self._duration = families["sluice_lambda_duration_seconds"]
        self._concurrent = families["sluice_lambda_concurrent_executions"]
        self._counts: dict[str, _Counts] = {}
        self._running: dict[str, Callable[[], int]] = {}

    def _of(self, name: str) -> _Counts:
        counts = self._counts.get(name)
        if counts is None:
            counts = self._counts[name] = _Counts()
        return counts

    def watch(self, name: str, running: Callable[[], int]) -> None:
        """Report ``running()`` (this process's invocations in flight) as the gauge."""
        self._running[name] = running

    def invoked(self, name: str, result: InvokeResult) -> None:
        counts = self._of(name)
        counts.invocations += 1
        if result.function_error is not None:
            counts.errors += 1
        if result.cold_start:
            counts.cold += 1
        durations = counts.durations
        durations.append(result.duration_ms / 1000.0)
        if len(durations) >= _AGGREGATE_EVERY:  # bounded between flushes
            counts.aggregate()

    def throttled(self, name: str) -> None:
        self._of(name).throttles += 1

    def flush(self) -> None:
        """Push the counts gathered since the last flush into prometheus-client."""
        with value_class(self._dir):
            for name, counts in tuple(self._counts.items()):
                if counts.invocations:
                    self._invocations.labels(name).inc(counts.invocations)
                for n, family in ((counts.errors, self._errors),
                                  (counts.throttles, self._throttles),
                                  (counts.cold, self._cold)):
                    if n:
                        family.labels(name).inc(n)
                counts.aggregate()
                if any(counts.buckets):
                    add_to_histogram(self._duration.labels(name), counts.buckets,
                                     counts.seconds)
                self._counts[name] = _Counts()
            for name, running in self._running.items():
                self._concurrent.labels(name).set(running())
