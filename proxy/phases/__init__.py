"""The phases of a route's walk, chosen per route when the deployment is compiled.

AWS's order (spec 8.7; ARCHITECTURE "The request pipeline"), each a module here:

1. resource policy, first phase: an explicit Deny answers 403 before anything runs (issue 17)
2. authorizer: IAM, Lambda TOKEN/REQUEST, Cognito, by type from a registry (issue 17)
3. ``api_key``: the key of a method with ``apiKeyRequired`` (403)
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
from proxy.config.model import Method
from proxy.integrations.base import Invoker
from proxy.phases import api_key, cache, integration, limits
from proxy.route import MethodCache
from ratelimit import Bucket

__all__ = ["responder", "route_phases"]


def route_phases(method: Method, *, services: Services, api_id: str, stage: str,
                 resource_path: str, account: Bucket,
                 stage_bucket: Bucket | None) -> tuple[Phase, ...]:
    """The phases of one method, in AWS's order."""
    phases: list[Phase] = []
    if method.api_key_required:
        phases.append(api_key.phase(services.registry, api_id, stage))
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
