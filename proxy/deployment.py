"""The deployment: the config compiled once into what every request reads.

Per stage: a router over ``MethodRoute``s, each with its phases and responder chosen for it
(``proxy.phases``), its integration (``proxy.integrations``), cache policy and metric labels;
the stage's gateway responses and access log. Everything that can be computed ahead is computed
here, against the runtime's services (``proxy._types.Services``). A reload compiles a new
``Deployment`` and swaps one reference; requests in flight finish on the one they started with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cache import CacheKeySpec, method_cache_settings
from proxy._types import Phase, Services
from proxy.accesslog import compile_format
from proxy.authorizers import DeploymentAuth, StageAuth, deployment_auth
from proxy.config.model import (
    DEFAULT_ACCOUNT_ID,
    ApiConfig,
    Config,
    Method,
    MethodSettings,
    StageConfig,
    ThrottleSettings,
)
from proxy.context import RequestContext
from proxy.encoding import BinaryMediaTypes
from proxy.gateway_responses import StageGatewayResponses
from proxy.integrations import MethodScope, make_invoker
from proxy.phases import responder, route_phases, stage_guard
from proxy.phases.limits import scale_limit
from proxy.route import MethodCache, MethodRoute
from proxy.routing import Router
from proxy.validation import CompiledModels, RequestValidator, compile_request_validator
from ratelimit import Bucket, account_bucket, stage_bucket

__all__ = ["Deployment", "MethodRoute", "Stage", "compile_deployment",
           "resolve_method_settings", "scale_limit", "settings_key"]


@dataclass(frozen=True, slots=True)
class Stage:
    api_id: str
    name: str
    config: StageConfig
    router: Router[MethodRoute]
    responses: StageGatewayResponses
    access_log_format: Callable[[RequestContext], str] | None
    access_log_destination: str | None
    # before the route is looked up: the resource policy's first phase (None: no policy)
    guard: Phase | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    config: Config
    stages: Mapping[tuple[str, str], Stage]
    single_api: str | None  # the API id when the config has exactly one API
    body_timeout_s: float = 60.0  # server.clientBodyTimeoutSeconds, read on every request
    account_id: str = DEFAULT_ACCOUNT_ID  # aws.accountId: $context.accountId
    # an API id by its lower-case form: the {apiId}.execute-api.* Host match ignores case
    # (host names do; logical ids from templates carry capitals, CONTRACT 9)
    host_apis: Mapping[str, str] = field(default_factory=dict)

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


def _own_keys(resource_path: str, method: str) -> list[str]:
    """The methodSettings keys naming this very method (the root also as AWS escapes it)."""
    own = settings_key(resource_path, method)
    return [f"~1/{method}", own] if resource_path == "/" else [own]


def resolve_method_settings(stage: StageConfig, resource_path: str, method: str) -> MethodSettings:
    """Field by field: "res/METHOD", then "res/*", then "*/*" (the most specific set value wins)."""
    candidates = [*_own_keys(resource_path, method), settings_key(resource_path, "*"), "*/*"]
    entries = [stage.method_settings[k] for k in candidates if k in stage.method_settings]
    values = {}
    for name in MethodSettings.__slots__:
        for entry in entries:
            value = getattr(entry, name)
            if value is not None:
                values[name] = value
                break
    return MethodSettings(**values)


def resource_id(api_id: str, resource_path: str) -> str:
    """A resource's id as AWS shows it (``f646q2``: 6 lower-case letters and digits), the same
    for the same API and path in every deployment and process."""
    digest = int.from_bytes(hashlib.sha1(f"{api_id}{resource_path}".encode()).digest()[:8])
    chars = []
    for _ in range(6):
        digest, i = divmod(digest, 36)
        chars.append(_ID_CHARS[i])
    return "".join(chars)


_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class _ApiParts:
    """What an API's methods share, compiled once per API: its binaryMediaTypes and its
    request models (each compiled on first use by a validator)."""

    binary_media_types: BinaryMediaTypes
    models: CompiledModels | None


def _api_parts(api: ApiConfig) -> _ApiParts:
    models = next((m.validation.models for r in api.definition.resources
                   for m in r.methods.values() if m.validation is not None), None)
    return _ApiParts(BinaryMediaTypes(api.definition.binary_media_types),
                     CompiledModels(models) if models is not None else None)


def compile_deployment(config: Config, services: Services) -> Deployment:
    divisor = services.limit_divisor
    throttle = config.account.throttle
    account = account_bucket(throttle.rate_limit / divisor,
                             scale_limit(throttle.burst_limit, divisor))
    stages: dict[tuple[str, str], Stage] = {}
    auth = deployment_auth(config, services)
    for api in config.apis:
        parts = _api_parts(api)
        for stage_name, stage_config in api.stages.items():
            stages[(api.id, stage_name)] = _compile_stage(api, stage_config, services, account,
                                                          auth, parts)
    single = config.apis[0].id if len(config.apis) == 1 else None
    return Deployment(config, stages, single, config.server.client_body_timeout_s,
                      config.aws.account_id, {api.id.lower(): api.id for api in config.apis})


def _compile_stage(api: ApiConfig, stage: StageConfig, services: Services,
                   account: Bucket, auth: DeploymentAuth, parts: _ApiParts) -> Stage:
    stage_auth = auth.stage(api, stage)
    routes = []
    for resource in api.definition.resources:
        for method_name, method in resource.methods.items():
            routes.append((resource.path, method_name,
                           _compile_method(api, stage, resource.path, method, services,
                                           account, stage_auth, parts)))
    access = stage.access_log
    return Stage(
        api_id=api.id,
        name=stage.name,
        config=stage,
        router=Router(routes),
        responses=StageGatewayResponses(api.definition.gateway_responses, stage.variables),
        access_log_format=compile_format(access.format) if access else None,
        access_log_destination=access.destination if access else None,
        guard=stage_guard(stage_auth),
    )


def caching_enabled(stage: StageConfig, resource_path: str, method: str,
                    resolved: MethodSettings) -> bool | None:
    """``cachingEnabled`` as AWS applies it: a GET (and an ANY, which caches only its GET
    requests) takes the most specific setting, ``"*/*"`` included; any other method only
    its own ``"path/METHOD"`` one, since caching on a stage covers GET alone (DG)."""
    if method in ("GET", "ANY"):
        return resolved.caching_enabled
    own = next((stage.method_settings[k] for k in _own_keys(resource_path, method)
                if k in stage.method_settings), None)
    return own.caching_enabled if own is not None else None


def _compile_method(api: ApiConfig, stage: StageConfig, resource_path: str, method: Method,
                    services: Services, account: Bucket, auth: StageAuth,
                    parts: _ApiParts) -> MethodRoute:
    settings = resolve_method_settings(stage, resource_path, method.http_method)
    divisor = services.limit_divisor
    throttled = None
    if settings.throttling_rate_limit is not None or settings.throttling_burst_limit is not None:
        # AWS fills the other half with its default when only one is set (spec 1.1).
        limits = ThrottleSettings(
            settings.throttling_rate_limit if settings.throttling_rate_limit is not None
            else 10_000.0,
            settings.throttling_burst_limit if settings.throttling_burst_limit is not None
            else 5_000,
        )
        throttled = stage_bucket(api.id, stage.name, resource_path, method.http_method,
                                 limits.rate_limit / divisor,
                                 scale_limit(limits.burst_limit, divisor))
    integration = method.integration
    invoker = make_invoker(integration, MethodScope(
        api.id, stage.variables, resource_path, services, parts.binary_media_types))
    any_method = method.http_method == "ANY"
    cache_settings = method_cache_settings(
        cache_cluster_enabled=stage.cache_cluster_enabled,
        # an ANY method caches its GET requests (the responder asks per request)
        http_method="GET" if any_method else method.http_method,
        caching_enabled=caching_enabled(stage, resource_path, method.http_method, settings),
        ttl=settings.cache_ttl_in_seconds,
        require_authorization=settings.require_authorization_for_cache_control,
        strategy=settings.unauthorized_cache_control_header_strategy,
    )
    method_cache = None
    if cache_settings.enabled:
        key = CacheKeySpec(
            api_id=api.id, stage=stage.name,
            # AWS defaults the namespace to the resource id; the resource path is ours.
            namespace=integration.cache_namespace or resource_path,
            http_method="GET" if any_method else method.http_method,
            key_parameters=integration.cache_key_parameters,
        )
        method_cache = MethodCache(cache_settings, key, f"{api.id}:{stage.name}")
    metrics_enabled = settings.metrics_enabled is not False
    return MethodRoute(
        resource_path=resource_path,
        resource_id=resource_id(api.id, resource_path),
        invoker=invoker,
        phases=route_phases(method, services=services, api_id=api.id, stage=stage.name,
                            resource_path=resource_path, account=account,
                            stage_bucket=throttled, auth=auth,
                            validator=_validator(method, parts)),
        respond=responder(invoker, method_cache, services,
                          api.definition.minimum_compression_size, any_method=any_method),
        metric_resource=resource_path if metrics_enabled else "-",
        metric_method=method.http_method if metrics_enabled else "-",
    )


def _validator(method: Method, parts: _ApiParts) -> RequestValidator | None:
    if method.validation is None or parts.models is None:
        return None
    return compile_request_validator(method.validation, method.request_parameters, parts.models)
