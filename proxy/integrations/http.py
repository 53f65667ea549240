"""HTTP (non-proxy): a request built by mapping templates and parameter mappings, sent to an
HTTP backend, and its answer turned into the method response by the integration responses
(spec 8.1, 8.2, 8.5; ``proxy.integrations.request_mapping`` and ``.responses``).

What the backend gets (recorded from AWS, LocalStack's ``test_apigateway_header_remapping_http``
and ``test_http_integration_with_lambda[HTTP]``): the integration's method (the client's for
``ANY``), the URI with its ``{name}`` placeholders filled from ``integration.request.path.*``
mappings and ``$context.requestOverride.path``, only the mapped query string parameters, and
only the mapped headers, plus ``Accept: application/json`` and ``User-Agent:
AmazonAPIGateway_{apiId}`` unless mapped, the client's ``Content-Type`` for a request with a
body, ``X-Amzn-Trace-Id``, ``X-Amzn-Apigateway-Api-Id`` and ``X-Forwarded-For/Port/Proto``.
None of the client's other headers pass. A GET, HEAD or OPTIONS integration request carries
no body.

The backend's answer is read whole (the integration response needs it to select and render);
one larger than AWS's 10 MB payload limit is an integration failure (502).
"""

from __future__ import annotations

from urllib.parse import quote

from proxy.config.model import Integration
from proxy.context import RequestContext
from proxy.encoding import MAX_PAYLOAD_BYTES
from proxy.errors import (
    ApiConfigurationError,
    BadRequest,
    IntegrationFailure,
    IntegrationTimeout,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from proxy.headers import forwarded
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.integrations.endpoint import Endpoint
from proxy.integrations.request_mapping import MappedRequest, RequestMapping
from proxy.integrations.responses import IntegrationResponses
from proxy.paths import escapes
from proxy.upstream.base import Upstream, UpstreamResponse

__all__ = ["HttpInvoker"]

_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# characters a filled-in path value may carry as they are; others are percent-encoded
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class HttpInvoker(Invoker):
    __slots__ = ("_api_id", "_broken", "_endpoint", "_method", "_origin", "_request",
                 "_responses", "_static_target", "_upstream", "_user_agent", "timeout_s",
                 "type_name", "uri")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        self.type_name = "HTTP"
        self.timeout_s = integration.timeout_ms / 1000
        self._upstream: Upstream = scope.services.upstream
        self._api_id = scope.api_id
        self._user_agent = f"AmazonAPIGateway_{scope.api_id}"
        self._method = (integration.http_method or "ANY").upper()
        self._endpoint = Endpoint(integration.uri or "", scope.stage_variables,
                                  integration.tls_insecure_skip_verification)
        self.uri = self._endpoint.uri
        self._origin = self._endpoint.origin
        self._request = RequestMapping(integration, scope)
        self._responses = IntegrationResponses(integration.responses, scope, "HTTP")
        self._broken = self._endpoint.broken or self._request.broken
        # a URI without placeholders is the target of every request that maps no query
        # string parameter: made once
        parts = self._endpoint.path_parts
        query = self._endpoint.static_query
        self._static_target = None if len(parts) != 1 else \
            f"{parts[0]}?{query}" if query else str(parts[0])

    def describe(self) -> str:
        return f"HTTP {self._method} {self.uri}"

    def _target(self, ctx: RequestContext, mapped: MappedRequest) -> str:
        if self._static_target is not None and not mapped.query:
            return self._static_target
        endpoint = self._endpoint
        pieces = []
        for part in endpoint.path_parts:
            if isinstance(part, str):
                pieces.append(part)
            else:
                name = part[0]
                value = mapped.path.get(name)
                if value is None:
                    value = ctx.path_params.get(name, "")
                pieces.append(quote(value, safe=_PATH_SAFE, errors="replace"))
        target = "".join(pieces)
        if endpoint.prefix is not None and escapes(target, endpoint.prefix):
            raise BadRequest()
        query = endpoint.static_query
        if mapped.query:
            extra = "&".join(f"{quote(k, safe='', errors='replace')}="
                             f"{quote(v, safe='', errors='replace')}" for k, v in mapped.query)
            query = f"{query}&{extra}" if query else extra
        return f"{target}?{query}" if query else target

    async def invoke(self, ctx: RequestContext) -> Outcome:
        if self._broken:
            raise ApiConfigurationError()
        request = ctx.request
        assert request is not None
        mapped = self._request.map_now(ctx) or await self._request.map_read(ctx)
        client_method = request.method
        method = client_method if self._method == "ANY" else self._method
        content_type = mapped.content_type
        if mapped.headers:
            headers = list(mapped.headers)
            names = {name.lower() for name, _ in headers}
            if "accept" not in names:
                headers.append(("Accept", "application/json"))
            if "user-agent" not in names:
                headers.append(("User-Agent", self._user_agent))
            if "content-type" in names:
                content_type = None
        else:  # most methods map no header
            headers = [("Accept", "application/json"), ("User-Agent", self._user_agent)]
        if content_type is not None and client_method not in _NO_BODY_METHODS:
            headers.append(("Content-Type", content_type))
        headers += (("X-Amzn-Trace-Id", ctx.trace_id),
                    ("X-Amzn-Apigateway-Api-Id", self._api_id),
                    *forwarded(request, ctx.source_ip))
        body = None if method in _NO_BODY_METHODS else mapped.body
        try:
            resp = await self._upstream.request(self._origin, method,
                                                self._target(ctx, mapped), headers, body,
                                                self.timeout_s)
            data = resp.body
            if data is None:
                data = await _whole(resp)
            else:
                resp.release()
        except UpstreamTimeout as exc:
            raise IntegrationTimeout() from exc
        except (UpstreamConnectError, UpstreamProtocolError) as exc:
            ctx.integration_error = str(exc) or type(exc).__name__
            raise IntegrationFailure() from exc
        ctx.integration_status = resp.status
        return self._responses.respond(ctx, resp.status, mapped, resp.headers, data)


async def _whole(resp: UpstreamResponse) -> bytes:
    chunks = []
    size = 0
    try:
        async for chunk in resp.stream():
            size += len(chunk)
            if size > MAX_PAYLOAD_BYTES:  # AWS's payload limit
                raise UpstreamProtocolError("the backend's answer exceeds 10 MB")
            chunks.append(chunk)
    finally:
        resp.release()
    return b"".join(chunks)
