"""The configuration: the Sluice YAML file and the OpenAPI definitions it names, read into
frozen dataclasses (``model``) and checked with every problem reported (``loader``)."""

from __future__ import annotations

from proxy.config.loader import format_problems, load_config
from proxy.config.model import (
    AccessLogSettings,
    AccountSettings,
    ApiConfig,
    ApiDefinition,
    ApiKey,
    Config,
    GatewayResponseDef,
    HostPort,
    Integration,
    IntegrationResponse,
    Method,
    MethodSettings,
    QuotaSettings,
    Resource,
    ServerSettings,
    StageConfig,
    StorageSettings,
    ThrottleSettings,
    UsagePlan,
    UsagePlanStage,
)
from proxy.config.openapi import GATEWAY_RESPONSE_TYPES, load_definition

__all__ = [
    "GATEWAY_RESPONSE_TYPES",
    "AccessLogSettings",
    "AccountSettings",
    "ApiConfig",
    "ApiDefinition",
    "ApiKey",
    "Config",
    "GatewayResponseDef",
    "HostPort",
    "Integration",
    "IntegrationResponse",
    "Method",
    "MethodSettings",
    "QuotaSettings",
    "Resource",
    "ServerSettings",
    "StageConfig",
    "StorageSettings",
    "ThrottleSettings",
    "UsagePlan",
    "UsagePlanStage",
    "format_problems",
    "load_config",
    "load_definition",
]
