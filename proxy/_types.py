"""Types the pipeline's modules share, in one leaf module so that none of them imports another
for a type (uvicorn's ``_types.py``): what a phase and a responder are, the services a
deployment is compiled against, and what the pipeline asks of the metrics object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from proxy.context import RequestContext

if TYPE_CHECKING:
    from aiohttp import web

    from cache import ResponseCache
    from proxy.authorizers.services import AuthorizerServices
    from proxy.functions.registry import Functions
    from proxy.metrics import MethodMetrics
    from proxy.upstream.base import Upstream
    from ratelimit import Limiter, Registry

Phase = Callable[[RequestContext], Awaitable[None] | None]
"""One step of a route's walk (API key, limits, ...), compiled per route at deployment load. It
answers early by raising its ``GatewayError``; it returns None when it decided at once, or an
awaitable to await when it must wait (a remote store): a route pays no coroutine for a phase
that needs none."""

Responder = Callable[[RequestContext], Awaitable["web.StreamResponse"]]
"""The end of a route's walk: the integration (behind the cache where the method caches) and
the response built from its outcome."""


class Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class MetricsSink(Protocol):
    """What the pipeline records into (``proxy.metrics.Metrics``)."""

    store_fallbacks: Counter
    cache_errors: Counter

    def method(self, api: str, stage: str, resource: str, method: str) -> MethodMetrics: ...

    def observe(self, ctx: RequestContext, mm: MethodMetrics) -> None: ...

    def throttled(self, api: str, stage: str, level: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Services:
    """What a deployment is compiled against, owned by ``proxy.runtime.Runtime``: phases and
    invokers bind the ones they use once, at load, instead of reaching for them per request.

    ``limit_divisor``: each worker's share of every limit when workers keep their own memory
    store (CONTRACT 2). ``metrics`` is None when per-request metrics are off (a bench baseline).
    ``functions``: the configured Lambda functions (``proxy.functions``), None to compile
    without them (they are then unknown, as a function missing from the config).
    ``authorizers``: the authorizers' clocks and key sets, per process (None: a fresh one
    per deployment).
    """

    upstream: Upstream
    limiter: Limiter
    registry: Registry
    cache: ResponseCache
    metrics: MetricsSink | None = None
    limit_divisor: int = 1
    functions: Functions | None = None
    authorizers: AuthorizerServices | None = None
