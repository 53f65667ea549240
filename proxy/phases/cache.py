"""The stage cache around the integration (spec 3): a lookup by the method's cache key, the
``Cache-Control: max-age=0`` decision, one integration call for concurrent misses of one key
(single-flight), and the store of what may be kept."""

from __future__ import annotations

from aiohttp import web

from cache import WARNING_HEADER as CACHE_WARNING
from cache import CachedResponse, Invalidation, cacheable, invalidation
from proxy._types import Responder, Services
from proxy.context import RequestContext
from proxy.errors import CacheControlForbidden, IntegrationTimeout
from proxy.integrations.base import Invoker
from proxy.phases.integration import drain, integrate
from proxy.respond import buffered
from proxy.route import MethodCache

_NO_HEADERS: tuple[tuple[str, str], ...] = ()
_WARNING = (("Warning", CACHE_WARNING),)


def responder(invoker: Invoker, mc: MethodCache, services: Services) -> Responder:
    cache = services.cache
    metrics = services.metrics
    settings = mc.settings
    timeout_s = invoker.timeout_s

    async def respond(ctx: RequestContext) -> web.StreamResponse:
        errors = cache.errors
        try:
            return await _respond(ctx)
        finally:
            if cache.errors != errors and metrics is not None:
                metrics.cache_errors.inc(cache.errors - errors)

    async def _respond(ctx: RequestContext) -> web.StreamResponse:
        request = ctx.request
        assert request is not None
        cache_key = mc.key.key(ctx.path_params, request.query, request.headers)
        key = ctx.key
        decision = invalidation(
            request.headers.get("Cache-Control"),
            require_authorization=settings.require_authorization,
            authorized=key is not None and key.invalidate_cache,
            strategy=settings.unauthorized_strategy,
        )
        if decision is Invalidation.FORBID:
            raise CacheControlForbidden()
        extra = _WARNING if decision is Invalidation.IGNORE_WITH_WARNING else _NO_HEADERS
        if decision is not Invalidation.REFRESH:
            hit = await cache.lookup(mc.stage_ns, cache_key)
            if hit is not None:
                ctx.cache_status = "hit"
                return buffered(ctx, hit.status, [*hit.headers, *extra], hit.body)
        ctx.cache_status = "miss"

        async def fetch() -> CachedResponse:
            outcome = await integrate(invoker, ctx)
            body = outcome.body
            if body is None and outcome.upstream is not None:
                body = await drain(outcome)
            fetched = CachedResponse(outcome.status, tuple(outcome.headers), body or b"")
            if cacheable(fetched.status, len(fetched.body)):
                await cache.store(mc.stage_ns, cache_key, fetched, settings.ttl_s)
            return fetched

        if decision is Invalidation.REFRESH:
            fetched = await fetch()
        else:
            # Concurrent misses for one key share one integration call (single-flight),
            # each waiter bounded by the integration timeout.
            try:
                fetched = await cache.fetch_once(mc.stage_ns, cache_key, fetch, timeout=timeout_s)
            except TimeoutError as exc:
                raise IntegrationTimeout() from exc
        return buffered(ctx, fetched.status, [*fetched.headers, *extra], fetched.body)

    return respond

