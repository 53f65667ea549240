"""Throttling and quota: every bucket of a request (usage plan, stage, account) and the plan's
quota decided in one store call, all or nothing (429 THROTTLED / QUOTA_EXCEEDED).

The embedded store decides at once (``Limiter.submit``): no coroutine for it (pinned proxy
+4%). A remote store is awaited, batched with the other requests of the same loop tick.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import cast

from proxy._types import MetricsSink, Phase, Services
from proxy.context import RequestContext
from proxy.errors import QuotaExceeded, StoreUnavailable, Throttled, ThrottleLevel
from ratelimit import Bucket, Decision, Limiter, Quota, StorageError, plan_bucket


def scale_limit(value: int, divisor: int) -> int:
    """A worker's share of a limit when workers keep their own memory store (CONTRACT 2)."""
    if divisor == 1 or value == 0:
        return value
    return max(1, round(value / divisor))


def keyless(services: Services, account: Bucket, stage_bucket: Bucket | None) -> Phase:
    """A method without an API key: its stage bucket (when the stage throttles it) and the
    account's, made once per deployment."""
    limiter = services.limiter
    metrics = services.metrics
    buckets = (account,) if stage_bucket is None else (stage_bucket, account)

    def decide(ctx: RequestContext) -> Awaitable[None] | None:
        return _decide(limiter, buckets, None, metrics)

    return decide


def keyed(services: Services, api_id: str, stage: str, resource_path: str, http_method: str,
          account: Bucket, stage_bucket: Bucket | None) -> Phase:
    """A method with an API key: the key's usage-plan bucket (the plan's per-method throttle
    where it has one, which replaces its key-wide one) and quota, then stage and account."""
    limiter = services.limiter
    metrics = services.metrics
    divisor = services.limit_divisor
    method_key = f"{resource_path}/{http_method}"  # "/pets/GET": a plan's per-method throttle
    tail = (account,) if stage_bucket is None else (stage_bucket, account)

    def decide(ctx: RequestContext) -> Awaitable[None] | None:
        key, plan = ctx.key, ctx.plan
        assert key is not None and plan is not None  # the API key phase ran first
        buckets: list[Bucket] = []
        method_throttle = None
        for plan_api, plan_stage, throttles in plan.api_stages:
            if plan_api == api_id and plan_stage == stage:
                method_throttle = throttles.get(method_key)
                break
        if method_throttle is not None:
            buckets.append(plan_bucket(plan.id, key.id, method_throttle[0] / divisor,
                                       scale_limit(method_throttle[1], divisor),
                                       api_id=api_id, stage=stage,
                                       resource_path=resource_path, method=http_method))
        elif plan.throttle is not None:
            buckets.append(plan_bucket(plan.id, key.id, plan.throttle[0] / divisor,
                                       scale_limit(plan.throttle[1], divisor)))
        quota = None
        if plan.quota is not None:
            limit, period, offset = plan.quota
            quota = Quota(plan.id, key.id, scale_limit(limit, divisor), period, offset)
        buckets.extend(tail)
        return _decide(limiter, buckets, quota, metrics)

    return decide


def _decide(limiter: Limiter, buckets: Sequence[Bucket], quota: Quota | None,
            metrics: MetricsSink | None) -> Awaitable[None] | None:
    """The verdict now when the limiter knows it (the embedded store), else a coroutine that
    awaits the store's batch: one coroutine frame, the limiter's future awaited directly."""
    try:
        answer = limiter.submit(buckets, quota)
    except StorageError as exc:  # onError: deny, the store known to be down
        raise StoreUnavailable() from exc
    if isinstance(answer, Decision):
        if not answer.allowed or answer.degraded:  # the common case needs no call
            _verdict(answer, metrics)
        return None
    return _await_verdict(answer, metrics)


async def _await_verdict(pending: Awaitable[Decision], metrics: MetricsSink | None) -> None:
    try:
        decision = await pending
    except StorageError as exc:
        raise StoreUnavailable() from exc
    _verdict(decision, metrics)


def _verdict(decision: Decision, metrics: MetricsSink | None) -> None:
    if decision.degraded and metrics is not None:
        metrics.store_fallbacks.inc()
    if not decision.allowed:
        if decision.level == "quota":
            raise QuotaExceeded()
        # the limiter names the refusing bucket's level: one of ThrottleLevel
        raise Throttled(cast(ThrottleLevel, decision.level or "account"))
