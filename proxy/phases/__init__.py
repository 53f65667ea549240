"""The phases of a route's walk, chosen per route when the deployment is compiled.

AWS's order (spec 8.7; ARCHITECTURE "The request pipeline"), each a module here:

1. ``resource_policy``: the stage's first phase, before the route: a Deny for any caller
   answers 403 before anything runs (``Stage.guard``, run by the handler)
2. ``authorizer``: IAM, Lambda TOKEN/REQUEST, Cognito (``proxy.authorizers``, by type), then
   the resource policy's final phase with the authorizer's decision (403)
3. ``api_key``: the key of a method with ``apiKeyRequired`` (403), from the header or the
   authorizer
4. ``limits``: every throttle level and the quota in one store decision (429)
5. validation: required parameters and the body model (400) (issue 16)

then the responder: ``cache`` (lookup, ``Cache-Control: max-age=0``, store) around
``integration`` (the invoker with its timeout, and the response built from its outcome).

A phase is a function compiled per route with what it needs bound (``proxy._types.Phase``); a
route lists only the phases it has, so a route without an API key or a validator pays nothing
for them.
"""

from __future__ import annotations

from proxy._types import Phase, Responder, Services
from proxy.authorizers import StageAuth
from proxy.config.model import Method
from proxy.integrations.base import Invoker
from proxy.phases import api_key, authorizer, cache, integration, limits, resource_policy
from proxy.route import MethodCache
from ratelimit import Bucket

__all__ = ["responder", "route_phases", "stage_guard"]


def stage_guard(auth: StageAuth) -> Phase | None:
    """What runs before the route is looked up: the resource policy's first phase."""
    return resource_policy.guard(auth)


def route_phases(method: Method, *, services: Services, api_id: str, stage: str,
                 resource_path: str, account: Bucket, stage_bucket: Bucket | None,
                 auth: StageAuth) -> tuple[Phase, ...]:
    """The phases of one method, in AWS's order."""
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
    return tuple(phases)


def responder(invoker: Invoker, method_cache: MethodCache | None, services: Services) -> Responder:
    """The end of the walk: the integration, behind the cache where the method caches."""
    if method_cache is None:
        return integration.responder(invoker)
    return cache.responder(invoker, method_cache, services)
