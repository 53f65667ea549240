"""HTTP_PROXY: the client's request, with mapped parameters, to an HTTP backend (spec 8.1)."""

from __future__ import annotations

from urllib.parse import quote

from proxy.config.model import Integration
from proxy.context import RequestContext
from proxy.errors import (
    ApiConfigurationError,
    BadRequest,
    IntegrationFailure,
    IntegrationTimeout,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from proxy.headers import (
    forwardable,
    forwarded,
    header_safe,
    remap_response,
    reserved_header_mapping,
)
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.integrations.endpoint import Endpoint
from proxy.integrations.params import Getter, compile_source
from proxy.paths import escapes
from proxy.upstream.base import Upstream


class HttpProxyInvoker(Invoker):
    __slots__ = ("_api_id", "_broken", "_header_params", "_method", "_origin", "_path_params",
                 "_path_parts", "_prefix", "_query_params", "_static_query", "_upstream",
                 "timeout_s", "type_name", "uri")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        stage_variables = scope.stage_variables
        self.type_name = "HTTP_PROXY"
        self.timeout_s = integration.timeout_ms / 1000
        self._upstream: Upstream = scope.services.upstream
        self._api_id = scope.api_id
        self._method = (integration.http_method or "ANY").upper()
        endpoint = Endpoint(integration.uri or "", stage_variables,
                            integration.tls_insecure_skip_verification)
        # A mapping that sets a header AWS reserves (Content-Length, ...) is a method AWS
        # answers 500 on every call (recorded: test_apigateway_header_remapping_http).
        self._broken = endpoint.broken or reserved_header_mapping(integration.request_parameters)
        self.uri = endpoint.uri
        self._origin = endpoint.origin
        # The path is a template: literal pieces and {name} placeholders filled from
        # integration.request.path.* mappings per request.
        self._path_parts = endpoint.path_parts
        self._prefix = endpoint.prefix
        self._static_query = endpoint.static_query
        self._path_params: dict[str, Getter] = {}
        self._query_params: list[tuple[str, Getter]] = []
        self._header_params: list[tuple[str, Getter]] = []
        for target, source in integration.request_parameters.items():
            getter = compile_source(source, stage_variables)
            if getter is None:
                continue
            if target.startswith("integration.request.path."):
                self._path_params[target[len("integration.request.path."):]] = getter
            elif target.startswith("integration.request.querystring."):
                self._query_params.append((target[len("integration.request.querystring."):],
                                           getter))
            elif target.startswith("integration.request.header."):
                self._header_params.append((target[len("integration.request.header."):], getter))

    def describe(self) -> str:
        return f"HTTP_PROXY {self._method} {self.uri}"

    def _target(self, ctx: RequestContext) -> str:
        pieces = []
        for part in self._path_parts:
            if isinstance(part, str):
                pieces.append(part)
            else:
                name = part[0]
                getter = self._path_params.get(name)
                value = getter(ctx) if getter is not None else ctx.path_params.get(name)
                pieces.append(value or "")
        target = "".join(pieces)
        if self._prefix is not None and escapes(target, self._prefix):
            raise BadRequest()
        query = self._static_query
        if ctx.query_string:
            query = f"{query}&{ctx.query_string}" if query else ctx.query_string
        if self._query_params:
            mapped = []
            for name, getter in self._query_params:
                value = getter(ctx)
                if value is not None:
                    mapped.append(f"{quote(name, safe='')}={quote(value, safe='')}")
            if mapped:
                extra = "&".join(mapped)
                query = f"{query}&{extra}" if query else extra
        return f"{target}?{query}" if query else target

    async def invoke(self, ctx: RequestContext) -> Outcome:
        if self._broken:
            raise ApiConfigurationError()
        request = ctx.request
        assert request is not None
        method = request.method if self._method == "ANY" else self._method
        headers = forwardable(request.raw_headers)
        auth = ctx.auth
        if auth is not None and auth.caller is not None:
            # a SigV4 signature is for API Gateway: not passed on (DG known issues)
            headers = [h for h in headers if h[0].lower() != "authorization"]
        for name, getter in self._header_params:
            value = getter(ctx)
            if value is not None:
                if not header_safe(name, value):  # "?q=%0D%0AX-Evil:%201" must not split
                    raise ApiConfigurationError()
                lname = name.lower()
                headers = [h for h in headers if h[0].lower() != lname]
                headers.append((name, value))
        headers += forwarded(request, ctx.source_ip)
        headers.append(("X-Amzn-Apigateway-Api-Id", self._api_id))
        body: object = None
        request_body = ctx.body
        if request_body is not None:
            body = request_body.data
            # asked only of a request with a body: a GET pays nothing for it
            coding = request.headers.get("Content-Encoding") if body or \
                request_body.stream is not None else None
            if coding is not None:  # dropped from the headers: the backend gets it decoded
                body = await request_body.decoded(coding)
            elif request_body.stream is not None:  # large and not read by a phase: streamed
                body = request_body.stream.iter_any()
        try:
            resp = await self._upstream.request(self._origin, method, self._target(ctx), headers,
                                                body, self.timeout_s)  # type: ignore[arg-type]
        except UpstreamTimeout as exc:
            raise IntegrationTimeout() from exc
        except (UpstreamConnectError, UpstreamProtocolError) as exc:
            ctx.integration_error = str(exc) or type(exc).__name__
            raise IntegrationFailure() from exc
        out = remap_response(resp.headers)
        if resp.body is not None:
            resp.release()
            # positional (None, True: no upstream to stream, the default Content-Type): keyword
            # arguments cost a dataclass __init__ about twice as much
            return Outcome(resp.status, out, resp.body, None, True, True)
        return Outcome(resp.status, out, None, resp, True, True)

