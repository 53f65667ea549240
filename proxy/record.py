"""What a finished request leaves behind: its metrics and its access log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from proxy._types import MetricsSink
from proxy.context import RequestContext, RouteInfo

if TYPE_CHECKING:
    from proxy.deployment import Stage
    from proxy.metrics import MethodMetrics

log = logging.getLogger("sluice.handler")


class Recorder:
    """``finish`` once per request, after the response is made; ``forget`` on a new
    deployment."""

    __slots__ = ("_access_log", "_metrics", "_route_metrics")

    def __init__(self, metrics: MetricsSink | None,
                 access_log: Callable[[str, str], None] | None) -> None:
        self._metrics = metrics
        # (destination, line): written off the event loop by proxy.accesslog
        self._access_log = access_log
        # route -> its metrics: a lookup by identity instead of Metrics.method's key tuple
        # (~300 ns a request, timeit); bound on a route's first request, so /metrics shows
        # only methods that were called
        self._route_metrics: dict[RouteInfo, MethodMetrics] = {}

    def forget(self) -> None:
        """Drop what was bound to the previous deployment's routes."""
        self._route_metrics = {}

    def finish(self, ctx: RequestContext, stage: Stage | None) -> None:
        ctx.response_latency_ms = (time.perf_counter() - ctx.start) * 1000
        metrics = self._metrics
        if metrics is not None:
            api = ctx.api_id or "-"
            stage_name = ctx.stage or "-"
            route = ctx.route
            mm = self._route_metrics.get(route) if route is not None else None
            if mm is None:
                if route is None:  # unmatched: labelled "-"
                    mm = metrics.method(api, stage_name, "-", "-")
                else:  # "-" too where metricsEnabled is false
                    mm = self._route_metrics[route] = metrics.method(
                        api, stage_name, route.metric_resource, route.metric_method)
            metrics.observe(ctx, mm)
            if ctx.throttle_level is not None:
                metrics.throttled(api, stage_name, ctx.throttle_level)
        if stage is not None and stage.access_log_format is not None and self._access_log:
            try:
                line = stage.access_log_format(ctx)
            except Exception:  # a log format must never fail a request
                log.exception("access log format failed")
            else:
                self._access_log(stage.access_log_destination or "stdout", line)
