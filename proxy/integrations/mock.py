"""MOCK: no backend; the request template's statusCode selects the integration response."""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from proxy.config.model import Integration
from proxy.context import RequestContext
from proxy.errors import ApiConfigurationError
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.integrations.params import Getter, compile_source


class MockInvoker(Invoker):
    __slots__ = ("_responses", "_status", "timeout_s", "type_name")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        stage_variables = scope.stage_variables
        self.type_name = "MOCK"
        self.timeout_s = integration.timeout_ms / 1000
        # Full VTL is not supported yet: a template must be plain JSON with an integer
        # statusCode. Anything else answers 500 at request time, as AWS does for a template
        # that yields no statusCode.
        self._status: int | None = _status_code(integration.request_templates)
        self._responses: list[tuple[re.Pattern[str] | None, Outcome, list[tuple[str, Getter]]]] = []
        for r in integration.responses:
            pattern = re.compile(r.selection_pattern) if r.selection_pattern else None
            content_type, body = "application/json", b""
            if r.response_templates:
                content_type = next(iter(r.response_templates))
                template = r.response_templates.get("application/json")
                if template is None:
                    template = r.response_templates[content_type]
                else:
                    content_type = "application/json"
                body = template.encode()
            static: list[tuple[str, str]] = [("Content-Type", content_type)]
            dynamic: list[tuple[str, Getter]] = []
            for target, source in r.response_parameters.items():
                name = target.removeprefix("method.response.header.")
                getter = compile_source(source, stage_variables)
                if getter is not None:
                    dynamic.append((name, getter))
            self._responses.append((pattern, Outcome(r.status_code, static, body), dynamic))

    async def invoke(self, ctx: RequestContext) -> Outcome:
        status = self._status
        if status is None:
            raise ApiConfigurationError()
        key = str(status)
        chosen = None
        default = None
        for pattern, outcome, dynamic in self._responses:
            if pattern is None:
                default = (outcome, dynamic)
            elif pattern.fullmatch(key):
                chosen = (outcome, dynamic)
                break
        chosen = chosen or default
        if chosen is None:
            raise ApiConfigurationError()
        outcome, dynamic = chosen
        headers = list(outcome.headers)
        for name, getter in dynamic:
            value = getter(ctx)
            if value is not None:
                headers.append((name, value))
        return Outcome(outcome.status, headers, outcome.body, content_type_default=False)


def _status_code(templates: Mapping[str, str]) -> int | None:
    if not templates:
        return None
    template = templates.get("application/json") or next(iter(templates.values()))
    try:
        doc = orjson.loads(template)
    except orjson.JSONDecodeError:
        return None
    if isinstance(doc, dict):
        code = doc.get("statusCode")
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            return code
    return None
