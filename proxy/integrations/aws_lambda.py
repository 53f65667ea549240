"""AWS (non-proxy) for Lambda: the integration request (a rendered request template, or the
body passed through) is the function's payload, and its result becomes the method response
through the integration responses (spec 8.1; ``proxy.integrations.request_mapping`` and
``.responses``).

Selection is by the function's error (API Reference, IntegrationResponse.selectionPattern: "If
the back end is an AWS Lambda function, the AWS Lambda function error header is matched"): a
function error's ``errorMessage`` is matched against each ``selectionPattern``; a successful
call matches as the empty string, so ``.+`` selects errors only and the default answers
successes (recorded from AWS: LocalStack's ``test_lambda_selection_patterns``, where a
``selectionPattern: "200"`` is not chosen for a success). An error no pattern matches takes the
default response, with Lambda's error document as its payload.

An empty payload is sent as ``{}`` (a GET without a template). As for AWS_PROXY: an integration
``httpMethod`` other than POST, or a URI naming no configured function, is 500; no instance
before the timeout 504. ``$context.integrationStatus`` is Lambda's own status (200). A URI for
another AWS service is not served (500).
"""

from __future__ import annotations

import asyncio

import orjson

from proxy.config.model import Integration
from proxy.context import RequestContext
from proxy.errors import ApiConfigurationError, IntegrationTimeout
from proxy.functions.arn import is_lambda_uri
from proxy.functions.base import FunctionUnavailable, NoInstance
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.integrations.function_binding import bind_function
from proxy.integrations.request_mapping import RequestMapping
from proxy.integrations.responses import IntegrationResponses
from proxy.integrations.unsupported import UnsupportedInvoker

__all__ = ["AwsLambdaInvoker", "aws_invoker", "error_message"]

_LAMBDA_HEADERS = (("Content-Type", "application/json"),)


def error_message(payload: bytes) -> str:
    """The ``errorMessage`` of a function error document ("" when it has none)."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ""
    message = doc.get("errorMessage") if isinstance(doc, dict) else None
    return message if isinstance(message, str) else ""


class AwsLambdaInvoker(Invoker):
    __slots__ = ("_arn", "_binding", "_function", "_request", "_responses", "timeout_s",
                 "type_name")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        self.type_name = "AWS"
        self.timeout_s = integration.timeout_ms / 1000
        self._request = RequestMapping(integration, scope)
        self._responses = IntegrationResponses(integration.responses, scope, "AWS")
        self._binding = binding = bind_function(integration.uri, scope.stage_variables,
                                                scope.services.functions,
                                                http_method=integration.http_method)
        # None: answer 500 (no usable function, or a request template that cannot be used)
        self._function = binding.function if binding.callable and not self._request.broken \
            else None
        self._arn = binding.arn

    def describe(self) -> str:
        return self._binding.describe("AWS Lambda")

    async def invoke(self, ctx: RequestContext) -> Outcome:
        function = self._function
        if function is None:
            raise ApiConfigurationError()
        mapped = await self._request.map(ctx)
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:
            result = await function.invoke(mapped.body or b"{}", deadline=deadline,
                                           trace_id=ctx.trace_id, function_arn=self._arn)
        except NoInstance as exc:
            raise IntegrationTimeout() from exc
        except FunctionUnavailable as exc:
            ctx.integration_error = str(exc)
            raise ApiConfigurationError() from exc
        ctx.integration_status = 200  # Lambda's own status: the invocation was made
        selection = ""
        if result.function_error is not None:
            selection = error_message(result.payload)
            ctx.integration_error = "Lambda function error"
        return self._responses.respond(ctx, selection, mapped, _LAMBDA_HEADERS, result.payload)


def aws_invoker(integration: Integration, scope: MethodScope) -> Invoker:
    """The invoker of an AWS integration: Lambda's, or 500 for another service."""
    if is_lambda_uri(integration.uri or ""):
        return AwsLambdaInvoker(integration, scope)
    return UnsupportedInvoker(integration, scope)
