"""AWS_PROXY: the request as a Lambda proxy event (payload format 1.0) to a function of the
config's ``functions``, and its result as the response (spec 8.3, 8.4).

The function is named by the integration URI (a Lambda ARN inside API Gateway's
``.../functions/{arn}/invocations``, ``${stageVariables.x}`` allowed), resolved once per stage.
AWS's answers where the call cannot be made or its result cannot be used: an integration
``httpMethod`` other than POST, a URI that names no function, or a function the config lacks
(from a stage variable) is 500; no instance free before the timeout is 504; a function error, a
crash, a timeout or a malformed result is 502. Header ``requestParameters`` do not apply, as on
AWS. ``IntegrationLatency`` is the invocation; ``$context.integrationStatus`` is Lambda's own
status (200), not the function's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from proxy.config.model import DEFAULT_ACCOUNT_ID, Integration
from proxy.context import ClfTime, RequestContext, getter, lookup, value
from proxy.errors import ApiConfigurationError, IntegrationFailure, IntegrationTimeout
from proxy.functions.base import FunctionUnavailable, NoInstance
from proxy.headers import forwarded
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.integrations.function_binding import bind_function
from proxy.integrations.lambda_proxy import build_event, parse_response

__all__ = ["AwsProxyInvoker", "authorizer_fields", "request_context"]

# requestContext keys and the $context variable each is read from (proxy.context.VARIABLES)
_REQUEST_CONTEXT = (
    ("apiId", "apiId"), ("domainName", "domainName"), ("domainPrefix", "domainPrefix"),
    ("extendedRequestId", "extendedRequestId"), ("httpMethod", "httpMethod"),
    ("path", "path"), ("protocol", "protocol"), ("requestId", "requestId"),
    ("requestTime", "requestTime"), ("resourceId", "resourceId"),
    ("resourcePath", "resourcePath"), ("stage", "stage"),
)
_IDENTITY = (("sourceIp", "identity.sourceIp"), ("userAgent", "identity.userAgent"),
             ("apiKey", "identity.apiKey"), ("apiKeyId", "identity.apiKeyId"))
# an AWS_IAM method's signer (proxy.authorizers.iam)
_SIGNER = (("accessKey", "identity.accessKey"), ("accountId", "identity.accountId"),
           ("caller", "identity.caller"), ("user", "identity.user"),
           ("userArn", "identity.userArn"))


# How a variable of each kind reads as value() gives it (proxy.context), inline: {a} is its
# attribute; the kinds not here are read through their getter.
_INLINE = {
    "id": "(ctx.{a} or None)",
    "text": "(ctx.{a} or None)",
    "clf": '(None if (v := ctx.{a}) is None or v == "" else '
           "_rt.text if v // 1000 == _rt.second else _rt(v))",
    "prefix": '(None if (v := ctx.{a}) is None or v == "" else str(v).split(".", 1)[0])',
}


def _compile() -> Callable[[RequestContext], tuple[dict[str, object], dict[str, object]]]:
    """The requestContext's reading, generated once from the $context table as access log
    formats are (proxy.accesslog): an attribute read per plain variable instead of a getter
    call. Its values were 55k instructions through value() (a lookup and a call each), 38k
    through getters held once, 13k this way (callgrind)."""
    namespace: dict[str, object] = {"_rt": ClfTime(), "_account": DEFAULT_ACCOUNT_ID}

    def read(key: str, name: str) -> str:
        variable = lookup(name)
        assert variable is not None, name
        inline = _INLINE.get(variable.kind)
        if inline is None or variable.attr is None or variable.path or variable.key is not None:
            namespace[f"_{key}"] = getter(name)
            return f"{key!r}: _{key}(ctx)"
        return f"{key!r}: {inline.format(a=variable.attr)}"

    identity = ", ".join(read(key, name) for key, name in _IDENTITY)
    context = ", ".join([
        "'accountId': (ctx.account_id or _account)", "'deploymentId': None",
        *(read(key, name) for key, name in _REQUEST_CONTEXT),
        "'requestTimeEpoch': ctx.request_time_epoch_ms", "'identity': identity"])
    exec(f"def read(ctx):\n    identity = {{{identity}}}\n    return {{{context}}}, identity\n",
         namespace)
    return cast(Callable[[RequestContext], tuple[dict[str, object], dict[str, object]]],
                namespace["read"])


_read = _compile()


def request_context(ctx: RequestContext) -> dict[str, object]:
    """The event's ``requestContext``, from the one $context table."""
    out, identity = _read(ctx)
    if identity["apiKey"] is None:  # AWS sends the two key fields only with a key
        del identity["apiKey"], identity["apiKeyId"]
    auth = ctx.auth
    if auth is not None and auth.caller is not None:
        identity.update((key, value(ctx, name)) for key, name in _SIGNER)
    return out


def authorizer_fields(ctx: RequestContext) -> dict[str, object] | None:
    """The event's ``requestContext.authorizer``: a Lambda authorizer's ``principalId`` and
    context with its ``integrationLatency`` (ms; 0 for a cached result), or Cognito's
    ``claims``; None (no key) without either (spec 8.3)."""
    auth = ctx.auth
    if auth is None:
        return None
    if auth.values is not None:
        latency = auth.integration_latency_ms
        return {**auth.values, "integrationLatency": round(latency) if latency else 0}
    if auth.claims is not None:
        return {"claims": dict(auth.claims)}
    return None


class AwsProxyInvoker(Invoker):
    __slots__ = ("_arn", "_binary", "_binding", "_function", "_resource", "_stage_variables",
                 "timeout_s", "type_name")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        self.type_name = "AWS_PROXY"
        self.timeout_s = integration.timeout_ms / 1000
        self._resource = scope.resource_path
        # the event's stageVariables, made once: null without any
        self._stage_variables = dict(scope.stage_variables) or None
        self._binary = scope.binary
        self._binding = binding = bind_function(integration.uri, scope.stage_variables,
                                                scope.services.functions,
                                                http_method=integration.http_method)
        self._function = binding.function if binding.callable else None  # None: answer 500
        self._arn = binding.arn

    def describe(self) -> str:
        return self._binding.describe("AWS_PROXY")

    async def invoke(self, ctx: RequestContext) -> Outcome:
        function = self._function
        if function is None:
            raise ApiConfigurationError()
        request = ctx.request
        body = ctx.body
        assert request is not None and body is not None
        event = build_event(
            method=request.method, resource=self._resource, raw_path=ctx.rest_path,
            raw_headers=request.raw_headers, raw_query=ctx.query_string,
            path_params=ctx.path_params or None, stage_variables=self._stage_variables,
            body=await body.read(), binary=self._binary,
            request_context=request_context(ctx), authorizer=authorizer_fields(ctx),
            added_headers=(("X-Amzn-Trace-Id", ctx.trace_id),
                           *forwarded(request, ctx.source_ip)))
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:
            result = await function.invoke(event, deadline=deadline, trace_id=ctx.trace_id,
                                           function_arn=self._arn)
        except NoInstance as exc:
            raise IntegrationTimeout() from exc
        except FunctionUnavailable as exc:
            ctx.integration_error = str(exc)
            raise ApiConfigurationError() from exc
        ctx.integration_status = 200  # Lambda's own status: the invocation was made
        if result.function_error is not None:
            ctx.integration_error = "Lambda function error"
            raise IntegrationFailure()
        try:
            response = parse_response(result.payload, binary=self._binary,
                                      accept=request.headers.get("Accept"), for_client=True)
        except IntegrationFailure as exc:
            # the reason goes to the access log; the client gets AWS's plain 502 body
            ctx.integration_error = exc.message
            raise IntegrationFailure() from None
        return Outcome(response.status, response.headers, response.body, clean=True)
