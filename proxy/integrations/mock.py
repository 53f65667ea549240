"""MOCK: no backend. The integration request (a rendered request template, or the body passed
through) must be a JSON object with an integer ``statusCode``; that status, as text, selects
the integration response, whose template makes the body from an empty payload (spec 8.1).

AWS reads the request payload leniently: CDK's CORS preflight template ``{statusCode: 200}``
(an unquoted name, not JSON) is accepted (recorded: LocalStack's AWS-validated
``test_integration_mock_with_path_param``), so a payload JSON refuses is searched for a
top-level ``statusCode`` name, quoted or not, with an integer value. No such status is AWS's
500 ("Unable to parse statusCode").
"""

from __future__ import annotations

import re

import orjson

from proxy.config.model import Integration
from proxy.context import RequestContext
from proxy.errors import ApiConfigurationError
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.integrations.request_mapping import RequestMapping
from proxy.integrations.responses import IntegrationResponses

__all__ = ["MockInvoker", "status_code"]

# statusCode as an object member, quoted with " or ' or not at all, then an integer
_LENIENT = re.compile(r"""[{,]\s*(["']?)statusCode\1\s*:\s*(-?\d{1,9})\s*[,}]""")


def status_code(payload: bytes) -> int | None:
    """The ``statusCode`` of a MOCK integration request, or None."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        m = _LENIENT.search(payload.decode("utf-8", "replace"))
        return int(m.group(2)) if m else None
    if isinstance(doc, dict):
        code = doc.get("statusCode")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


class MockInvoker(Invoker):
    __slots__ = ("_request", "_responses", "timeout_s", "type_name")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        self.type_name = "MOCK"
        self.timeout_s = integration.timeout_ms / 1000
        self._request = RequestMapping(integration, scope)
        self._responses = IntegrationResponses(integration.responses, scope, "MOCK")

    async def invoke(self, ctx: RequestContext) -> Outcome:
        if self._request.broken:
            raise ApiConfigurationError()
        mapped = await self._request.map(ctx)
        status = status_code(mapped.body)
        if status is None:
            raise ApiConfigurationError()
        return self._responses.respond(ctx, str(status), mapped, (), b"")
