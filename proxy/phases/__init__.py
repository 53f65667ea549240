"""The phases of a route's walk, chosen per route when the deployment is compiled.

AWS's order (spec 8.7; ARCHITECTURE "The request pipeline"), each a module here:

1. ``resource_policy``: the stage's first phase, before the route: a Deny for any caller
   answers 403 before anything runs (``Stage.guard``, run by the handler)
2. ``authorizer``: IAM, Lambda TOKEN/REQUEST, Cognito (``proxy.authorizers``, by type), then
   the resource policy's final phase with the authorizer's decision (403)
3. ``api_key``: the key of a method with ``apiKeyRequired`` (403), from the header or the
   authorizer
4. ``limits``: every throttle level and the quota in one store decision (429)
5. ``validation``: required parameters and the body model (400)

then the responder: ``cache`` (lookup, ``Cache-Control: max-age=0``, store) around
``integration`` (the invoker with its timeout, and the response built from its outcome), inside
``compression`` where the API sets ``minimumCompressionSize``.

A phase is a function compiled per route with what it needs bound (``proxy._types.Phase``); a
route lists only the phases it has, so a route without an API key or a validator pays nothing
for them.
"""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from proxy._types import Phase, Responder, Services
from proxy.authorizers import StageAuth
from proxy.config.model import Method
from proxy.context import RequestContext
from proxy.integrations.base import Invoker
from proxy.phases import (
    api_key,
    authorizer,
    cache,
    compression,
    integration,
    limits,
    resource_policy,
    validation,
)
from proxy.route import MethodCache
from proxy.validation import RequestValidator
from ratelimit import Bucket

__all__ = ["responder", "route_phases", "stage_guard"]


def stage_guard(auth: StageAuth) -> Phase | None:
    """What runs before the route is looked up: the resource policy's first phase."""
    return resource_policy.guard(auth)


def route_phases(method: Method, *, services: Services, api_id: str, stage: str,
                 resource_path: str, account: Bucket, stage_bucket: Bucket | None,
                 auth: StageAuth, validator: RequestValidator | None = None
                 ) -> tuple[Phase, ...]:
    """The phases of one method, in AWS's order; ``validator`` is the method's compiled
    request validator, if it has one."""
    phases: list[Phase] = []
    authorize = authorizer.phase(method.authorization, auth)
    if authorize is not None:
        phases.append(authorize)
    if method.api_key_required:
        phases.append(api_key.phase(services.registry, api_id, stage, auth.api_key_source))
        phases.append(limits.keyed(services, api_id, stage, resource_path, method.http_method,
                                   account, stage_bucket))
    else:
        phases.append(limits.keyless(services, account, stage_bucket))
    if validator is not None:
        phases.append(validation.phase(validator))
    return tuple(phases)


def responder(invoker: Invoker, method_cache: MethodCache | None, services: Services,
              minimum_compression_size: int | None = None, *,
              any_method: bool = False) -> Responder:
    """The end of the walk: the integration, behind the cache where the method caches (for an
    ANY method, its GET requests only), inside compression where the API compresses."""
    compressing = minimum_compression_size is not None
    direct = integration.responder(invoker, whole=compressing)
    if method_cache is None:
        inner = direct
    else:
        cached = cache.responder(invoker, method_cache, services)
        inner = cached if not any_method else _gets_only(cached, direct)
    if minimum_compression_size is None:
        return inner
    return compression.responder(inner, minimum_compression_size)


def _gets_only(cached: Responder, direct: Responder) -> Responder:
    def respond(ctx: RequestContext) -> Awaitable[web.StreamResponse]:
        return cached(ctx) if ctx.http_method == "GET" else direct(ctx)

    return respond
