"""A method of a deployed stage as requests walk it: its phases, its responder, its labels."""

from __future__ import annotations

from dataclasses import dataclass

from cache import CacheKeySpec, CacheSettings
from proxy._types import Phase, Responder
from proxy.integrations.base import Invoker


@dataclass(frozen=True, slots=True)
class MethodCache:
    settings: CacheSettings
    key: CacheKeySpec
    stage_ns: str


# eq=False: a route is itself, hashed by identity in C; a generated __hash__ over a dozen fields
# would run wherever a route keys a dict.
@dataclass(frozen=True, slots=True, eq=False)
class MethodRoute:
    resource_path: str
    resource_id: str  # $context.resourceId: AWS's 6-character id, derived from the path
    invoker: Invoker  # for `sluice routes`; requests reach it through respond
    # before the integration, in AWS's order; empty for a route that needs none
    phases: tuple[Phase, ...]
    respond: Responder  # the integration (behind the cache where it caches) and its response
    metric_resource: str
    metric_method: str  # these two are "-" where metricsEnabled is false
