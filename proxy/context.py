"""Per-request state, filled in by the pipeline phases and read by metrics and access logs.

Slotted: one is made per request (a dict-backed object costs ~40% more to create).
Attribute names follow the ``$context`` variables where there is one (``$context.httpMethod``
is ``http_method``); ``None`` means "not set" and an access log writes it as ``-``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.deployment import MethodRoute


class RequestContext:
    __slots__ = (
        "api_id",
        "api_key",
        "api_key_id",
        "cache_status",
        "domain_name",
        "error_message",
        "error_response_type",
        "extended_request_id",
        "http_method",
        "integration_error",
        "integration_latency_ms",
        "integration_status",
        "path",
        "protocol",
        "query_string",
        "request_id",
        "request_time_epoch_ms",
        "resource_id",
        "resource_path",
        "response_latency_ms",
        "response_length",
        "route",
        "source_ip",
        "stage",
        "start",
        "status",
        "throttle_level",
        "trace_id",
        "user_agent",
    )

    def __init__(self, request_id: str, extended_request_id: str, start: float,
                 request_time_epoch_ms: int, trace_id: str = "") -> None:
        self.request_id = request_id
        self.extended_request_id = extended_request_id
        self.trace_id = trace_id  # X-Amzn-Trace-Id
        self.start = start  # time.perf_counter() at receipt
        self.request_time_epoch_ms = request_time_epoch_ms
        self.api_id: str | None = None
        self.stage: str | None = None
        self.http_method: str | None = None
        self.path: str | None = None  # "/{stage}/pets/1": includes the stage, as AWS logs it
        self.query_string: str | None = None
        self.protocol = "HTTP/1.1"
        self.domain_name: str | None = None
        self.source_ip: str | None = None
        self.user_agent: str | None = None
        self.resource_path: str | None = None  # the template: "/pets/{petId}"
        self.resource_id: str | None = None
        # the deployment's MethodRoute once matched: metrics label the request by it
        self.route: MethodRoute | None = None
        self.api_key: str | None = None  # never logged as such; access logs may name it
        self.api_key_id: str | None = None
        self.status = 0
        self.response_length: int | None = None
        self.response_latency_ms: float | None = None
        self.integration_latency_ms: float | None = None  # None: no integration was called
        self.integration_status: int | None = None
        self.integration_error: str | None = None
        self.error_message: str | None = None
        self.error_response_type: str | None = None
        self.cache_status: str | None = None  # None: caching off; "hit" | "miss"
        # account | concurrency | stage | usage_plan | quota, when the request was refused so
        self.throttle_level: str | None = None


# $context.X -> its value, for the places that read a variable by name: parameter mappings
# (proxy.integrations.params) and gateway-response headers and templates. Access logs format
# values their own way (escaping, "-" for unset, whole milliseconds) in proxy.accesslog.
CONTEXT_VARIABLES: dict[str, Callable[[RequestContext], str | None]] = {
    "requestId": lambda c: c.request_id,
    "extendedRequestId": lambda c: c.extended_request_id,
    "apiId": lambda c: c.api_id,
    "stage": lambda c: c.stage,
    "httpMethod": lambda c: c.http_method,
    "path": lambda c: c.path,
    "resourcePath": lambda c: c.resource_path,
    "domainName": lambda c: c.domain_name,
    "protocol": lambda c: c.protocol,
    "identity.sourceIp": lambda c: c.source_ip,
    "identity.userAgent": lambda c: c.user_agent,
    "identity.apiKeyId": lambda c: c.api_key_id,
    "identity.apiKey": lambda c: c.api_key,
    "requestTimeEpoch": lambda c: str(c.request_time_epoch_ms),
}
