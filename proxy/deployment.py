"""The deployment: the config compiled once into what every request reads.

Per stage: a router over ``MethodRoute``s, each with its resolved integration, stage throttle,
cache policy and metric labels; the stage's gateway responses and access log. Everything that
can be computed ahead is computed here. A reload compiles a new ``Deployment`` and swaps one
reference; requests in flight finish on the one they started with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cache import CacheKeySpec, CacheSettings, method_cache_settings
from proxy.accesslog import compile_format
from proxy.config.model import (
    ApiConfig,
    Config,
    Method,
    MethodSettings,
    StageConfig,
    ThrottleSettings,
)
from proxy.context import RequestContext
from proxy.errors import ApiConfigurationError
from proxy.gateway_responses import StageGatewayResponses
from proxy.integrations.base import Call, Invoker, Outcome
from proxy.integrations.http_proxy import HttpProxyInvoker
from proxy.integrations.mock import MockInvoker
from proxy.routing import Router
from proxy.upstream.base import Upstream
from ratelimit import Bucket, stage_bucket


@dataclass(frozen=True, slots=True)
class MethodCache:
    settings: CacheSettings
    key: CacheKeySpec
    stage_ns: str


class UnsupportedInvoker(Invoker):
    """Integration types not served yet (HTTP, AWS, AWS_PROXY) answer 500, as a bad config would."""

    def __init__(self, type_name: str, timeout_s: float) -> None:
        self.type_name = type_name
        self.timeout_s = timeout_s

    async def invoke(self, call: Call) -> Outcome:
        raise ApiConfigurationError()

    def describe(self) -> str:
        return f"{self.type_name} (not supported yet: answers 500)"


# eq=False: a route is itself, hashed by identity in C (the handler keys per-route caches by
# it); a generated __hash__ over a dozen fields would run on every request.
@dataclass(frozen=True, slots=True, eq=False)
class MethodRoute:
    api_id: str
    stage: str
    resource_path: str
    http_method: str  # as declared: GET ... or ANY
    invoker: Invoker
    api_key_required: bool
    stage_bucket: Bucket | None  # None: no stage-level throttling configured
    plan_method_key: str  # "/pets/GET": the key of a usage plan's per-method throttle
    cache: MethodCache | None
    metric_resource: str
    metric_method: str  # these two are "-" where metricsEnabled is false
    required_params: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stage:
    api_id: str
    name: str
    config: StageConfig
    router: Router[MethodRoute]
    responses: StageGatewayResponses
    access_log_format: Callable[[RequestContext], str] | None
    access_log_destination: str | None


@dataclass(frozen=True, slots=True)
class Deployment:
    config: Config
    stages: Mapping[tuple[str, str], Stage]
    single_api: str | None  # the API id when the config has exactly one API
    limit_divisor: int = 1

    def stage(self, api_id: str, stage: str) -> Stage | None:
        return self.stages.get((api_id, stage))

    def describe_routes(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for (api_id, stage_name), stage in sorted(self.stages.items()):
            for path, method, route in stage.router.resources():
                rows.append((f"{api_id}/{stage_name}", method, path, route.invoker.describe(),
                             f"{route.invoker.timeout_s * 1000:.0f}ms"))
        return rows


def settings_key(resource_path: str, method: str) -> str:
    """The methodSettings key of a method: resource path without its leading slash."""
    return f"{resource_path[1:]}/{method}"


def resolve_method_settings(stage: StageConfig, resource_path: str, method: str) -> MethodSettings:
    """Field by field: "res/METHOD", then "res/*", then "*/*" (the most specific set value wins)."""
    candidates = [settings_key(resource_path, method), settings_key(resource_path, "*"), "*/*"]
    if resource_path == "/":
        candidates[0:0] = [f"~1/{method}"]
    entries = [stage.method_settings[k] for k in candidates if k in stage.method_settings]
    values = {}
    for name in MethodSettings.__slots__:
        for entry in entries:
            value = getattr(entry, name)
            if value is not None:
                values[name] = value
                break
    return MethodSettings(**values)


def scale_limit(value: int, divisor: int) -> int:
    """A worker's share of a limit when workers keep their own memory store (CONTRACT 2)."""
    if divisor == 1 or value == 0:
        return value
    return max(1, round(value / divisor))


def compile_deployment(config: Config, upstream: Upstream, *,
                       limit_divisor: int = 1) -> Deployment:
    stages: dict[tuple[str, str], Stage] = {}
    for api in config.apis:
        for stage_name, stage_config in api.stages.items():
            stages[(api.id, stage_name)] = _compile_stage(api, stage_config, upstream,
                                                          limit_divisor)
    single = config.apis[0].id if len(config.apis) == 1 else None
    return Deployment(config, stages, single, limit_divisor)


def _compile_stage(api: ApiConfig, stage: StageConfig, upstream: Upstream,
                   divisor: int) -> Stage:
    routes = []
    for resource in api.definition.resources:
        for method_name, method in resource.methods.items():
            routes.append((resource.path, method_name,
                           _compile_method(api, stage, resource.path, method, upstream,
                                           divisor)))
    access = stage.access_log
    return Stage(
        api_id=api.id,
        name=stage.name,
        config=stage,
        router=Router(routes),
        responses=StageGatewayResponses(api.definition.gateway_responses, stage.variables),
        access_log_format=compile_format(access.format) if access else None,
        access_log_destination=access.destination if access else None,
    )


def _compile_method(api: ApiConfig, stage: StageConfig, resource_path: str, method: Method,
                    upstream: Upstream, divisor: int) -> MethodRoute:
    settings = resolve_method_settings(stage, resource_path, method.http_method)
    throttle = None
    if settings.throttling_rate_limit is not None or settings.throttling_burst_limit is not None:
        # AWS fills the other half with its default when only one is set (spec 1.1).
        throttle = ThrottleSettings(
            settings.throttling_rate_limit if settings.throttling_rate_limit is not None
            else 10_000.0,
            settings.throttling_burst_limit if settings.throttling_burst_limit is not None
            else 5_000,
        )
        throttle = ThrottleSettings(throttle.rate_limit / divisor,
                                    scale_limit(throttle.burst_limit, divisor))
    integration = method.integration
    invoker: Invoker
    if integration.type == "HTTP_PROXY":
        invoker = HttpProxyInvoker(integration, stage.variables, upstream, api.id)
    elif integration.type == "MOCK":
        invoker = MockInvoker(integration, stage.variables)
    else:
        invoker = UnsupportedInvoker(integration.type, integration.timeout_ms / 1000)
    cache_settings = method_cache_settings(
        cache_cluster_enabled=stage.cache_cluster_enabled,
        http_method=method.http_method,
        caching_enabled=settings.caching_enabled,
        ttl=settings.cache_ttl_in_seconds,
        require_authorization=settings.require_authorization_for_cache_control,
        strategy=settings.unauthorized_cache_control_header_strategy,
    )
    cache = None
    if cache_settings.enabled:
        stage_ns = f"{api.id}:{stage.name}"
        key = CacheKeySpec(
            api_id=api.id, stage=stage.name,
            # AWS defaults the namespace to the resource id; the resource path is ours.
            namespace=integration.cache_namespace or resource_path,
            http_method=method.http_method,
            key_parameters=integration.cache_key_parameters,
        )
        cache = MethodCache(cache_settings, key, stage_ns)
    metrics_enabled = settings.metrics_enabled is not False
    return MethodRoute(
        api_id=api.id,
        stage=stage.name,
        resource_path=resource_path,
        http_method=method.http_method,
        invoker=invoker,
        api_key_required=method.api_key_required,
        stage_bucket=None if throttle is None else stage_bucket(
            api.id, stage.name, resource_path, method.http_method, throttle.rate_limit,
            throttle.burst_limit),
        plan_method_key=f"{resource_path}/{method.http_method}",
        cache=cache,
        metric_resource=resource_path if metrics_enabled else "-",
        metric_method=method.http_method if metrics_enabled else "-",
        required_params=tuple(p for p, req in method.request_parameters.items() if req),
    )
