"""Integration responses of a non-proxy integration (HTTP, AWS, MOCK), compiled once per
method: which one a backend answer selects and the method response it becomes (spec 8.1, 8.5,
10.2).

- **Selection**: each entry's ``selectionPattern`` is a regular expression over the whole
  selection value (the backend's status code for HTTP and MOCK, a Lambda function's
  ``errorMessage`` for AWS); the first that matches, in the order the definition lists them,
  wins, else the ``default`` entry; neither is AWS's 500 ("No match for output mapping and no
  default output mapping configured").
- **Status**: the selected entry's ``statusCode`` (a backend 400 under a lone ``default -> 200``
  answers 200: LS-snap ``test_http_integration_invoke_status_code_passthrough[HTTP]``), then
  ``$context.responseOverride.status`` when it is a status (100-599).
- **Headers**: only what ``responseParameters`` map (``integration.response.header.X``,
  ``.multivalueheader.X``, ``.body``, ``.body.JSONPath``, ``'literal'``, ``context.X``,
  ``stageVariables.X``), then ``$context.responseOverride.header.*`` over them; the backend's
  own headers do not pass (recorded: a non-proxy method response carries only its mapped
  headers). Names AWS reserves come back as ``x-amzn-Remapped-*`` (``proxy.headers``).
- **Body**: the backend payload converted by the entry's ``contentHandling`` and the API's
  ``binaryMediaTypes`` (against the request's first ``Accept`` type), and rendered by the
  template chosen by the request's ``Accept`` media types, else ``application/json``, else
  the first; its key is the response's ``Content-Type`` unless a mapping sets one (without a
  template: ``application/json``, as AWS answers). A conversion toward text (base64-encoding a
  binary payload) comes before the template, so ``$input.body`` is the base64 text; one toward
  binary (base64-decoding) comes after it, so a template may pick the base64 text out of a
  JSON answer (``$input.path('$.body')`` with CONVERT_TO_BINARY, the pattern users of Lambda
  custom integrations report working on AWS).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import hdrs

from proxy.config.model import IntegrationResponse
from proxy.context import RequestContext
from proxy.encoding import Conversion, convert, media_type, response_conversion
from proxy.errors import ApiConfigurationError
from proxy.headers import (
    GATEWAY_OWN,
    METHOD_RESPONSE_DROP,
    MOCK_REMAP,
    NON_PROXY_REMAP,
    header_safe,
)
from proxy.integrations.base import MethodScope, Outcome
from proxy.integrations.mapped_body import BodyDoc, compile_body_source
from proxy.integrations.params import compile_source
from proxy.integrations.request_mapping import MappedRequest, overridden, render
from proxy.vtl import Template, compile_template, response_overrides

__all__ = ["IntegrationResponses", "Selected"]

_JSON = "application/json"
_NO_RESPONSE_OVERRIDES: dict[str, Any] = {"header": {}, "status": None}


class _Backend:
    """The integration's answer as response parameters read it."""

    __slots__ = ("_by_name", "doc", "headers")

    def __init__(self, headers: Sequence[tuple[str, str]], doc: BodyDoc) -> None:
        self.headers = headers
        self.doc = doc
        self._by_name: dict[str, list[str]] | None = None

    def header(self, lname: str) -> list[str] | None:
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = {}
            for name, v in self.headers:
                by_name.setdefault(name.lower(), []).append(v)
        return by_name.get(lname)


_Source = Callable[[RequestContext, _Backend], str | None]


def _compile_response_source(expr: str, stage_variables: Mapping[str, str]) -> _Source | None:
    """The integration response's own sources here; ``method.request.*`` is not mapped (AWS
    maps no method request value into a response); the rest as a request mapping reads them
    (``params.compile_source``)."""
    for prefix, multi in (("integration.response.header.", False),
                          ("integration.response.multivalueheader.", True)):
        if expr.startswith(prefix):
            lname = expr[len(prefix):].lower()
            if multi:
                return lambda _c, b: ",".join(v) if (v := b.header(lname)) else None
            return lambda _c, b: v[0] if (v := b.header(lname)) else None
    body = "integration.response.body"
    if expr == body or expr.startswith(body + "."):
        get = compile_body_source(expr[len(body) + 1:])
        if get is None:
            return None
        return lambda _c, b: get(b.doc)
    if expr.startswith("method.request."):
        return None
    request_source = compile_source(expr, stage_variables)
    if request_source is None:
        return None
    return lambda c, _b: request_source(c)


class Selected:
    """One integration response, compiled."""

    __slots__ = ("content_handling", "conversion", "params", "pattern", "status", "templates")

    def __init__(self, response: IntegrationResponse, stage_variables: Mapping[str, str]) -> None:
        pattern = response.selection_pattern
        self.pattern = re.compile(pattern) if pattern else None
        self.status = response.status_code
        self.content_handling = response.content_handling
        # the conversion of an API without binaryMediaTypes (the DG's "Undefined" rows)
        self.conversion = response_conversion(False, False, response.content_handling)
        self.params: list[tuple[str, _Source]] = []
        for target, expr in response.response_parameters.items():
            source = _compile_response_source(expr, stage_variables)
            if source is not None:
                self.params.append((target.removeprefix("method.response.header."), source))
        # media type -> (the key as written: the Content-Type it answers with, the template)
        self.templates: dict[str, tuple[str, Template]] = {}
        for key, source_text in response.response_templates.items():
            self.templates.setdefault(media_type(key) or key, (key, compile_template(source_text)))

    def template_for(self, accept: str | None) -> tuple[str, Template] | None:
        templates = self.templates
        if not templates:
            return None
        if accept:
            for item in accept.split(","):
                found = templates.get(media_type(item) or "")
                if found is not None:
                    return found
        found = templates.get(_JSON)
        return found if found is not None else next(iter(templates.values()))


class IntegrationResponses:
    """The integration responses of one method."""

    __slots__ = ("_binary", "_default", "_entries", "_remap", "_stage_variables")

    def __init__(self, responses: Sequence[IntegrationResponse], scope: MethodScope,
                 integration_type: str) -> None:
        self._stage_variables = scope.stage_variables
        self._binary = scope.binary
        self._remap = MOCK_REMAP if integration_type == "MOCK" else NON_PROXY_REMAP
        self._entries: list[Selected] = []
        self._default: Selected | None = None
        for response in responses:
            entry = Selected(response, scope.stage_variables)
            if entry.pattern is None:
                if self._default is None:
                    self._default = entry
            else:
                self._entries.append(entry)

    def select(self, selection: str | int) -> Selected:
        """The entry whose selectionPattern matches ``selection`` (a status as a number is
        matched as its text), else the default."""
        if self._entries:
            text = selection if isinstance(selection, str) else str(selection)
            for entry in self._entries:
                assert entry.pattern is not None
                if entry.pattern.fullmatch(text):
                    return entry
        if self._default is None:
            raise ApiConfigurationError()
        return self._default

    def respond(self, ctx: RequestContext, selection: str | int, mapped: MappedRequest,
                headers: Sequence[tuple[str, str]], body: bytes) -> Outcome:
        """The method response for the integration's answer (``headers``, ``body``) selected
        by ``selection`` (a backend's status may be given as a number)."""
        # most methods have only a default response: no selection to make
        entry = self._default if not self._entries and self._default is not None \
            else self.select(selection)
        request = ctx.request
        assert request is not None
        accept = request.headers.get(hdrs.ACCEPT)
        binary = self._binary
        if binary.configured:
            content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
            conversion = response_conversion(binary.matches_content_type(content_type),
                                             binary.matches_accept(accept),
                                             entry.content_handling)
        else:  # the DG's "Undefined" rows: text stays text (not UTF-8: U+FFFD, as AWS)
            conversion = entry.conversion
        chosen = entry.template_for(accept)
        # toward text before the template (it reads base64), toward binary after it (it may
        # pick the base64 text out of a JSON answer: $input.path('$.body'))
        decode_after = conversion is Conversion.BASE64_DECODE
        # text for a template: decoded once below, U+FFFD for what is not UTF-8 (the same
        # text as converting first), unless response parameters read the converted body
        text_for_template = conversion is Conversion.TEXT and chosen is not None \
            and not entry.params
        if body and not decode_after and not text_for_template:
            body = convert(body, conversion)
        out: list[tuple[str, str]] = []
        if entry.params:
            backend = _Backend(headers, BodyDoc(body))
            for name, source in entry.params:
                got = source(ctx, backend)
                if got is not None:
                    out.append((name, got))
        content_type = _JSON
        if chosen is not None:
            content_type, template = chosen
            body = render(template, body, text_for_template, mapped.params,
                          self._stage_variables, mapped.overrides, False, ctx.request_id)
        if decode_after and body:
            body = convert(body, conversion)
        written = mapped.overrides.response
        if written is None and not out:  # no header mapped, no override written
            if entry.status < 200:
                raise ApiConfigurationError()
            return Outcome(entry.status, [("Content-Type", content_type)], body, None, False,
                           True)
        overrides = _NO_RESPONSE_OVERRIDES if written is None else response_overrides(written)
        status = entry.status
        wanted = overrides["status"]
        # AWS ignores an override that is not a status; a 1xx cannot end an HTTP exchange
        # (the client would wait on for the final answer), so it is ignored too
        if wanted is not None and 200 <= wanted <= 599:
            status = wanted
        if status < 200:
            raise ApiConfigurationError()
        if overrides["header"]:
            out = overridden(out, overrides["header"], fold=True)
        final: list[tuple[str, str]] = []
        has_type = False
        remap = self._remap
        for name, v in out:
            if not header_safe(name, v):  # a template's header with CR/LF or a bad name
                raise ApiConfigurationError()
            lname = name.lower()
            renamed = remap.get(lname)
            if renamed is not None:
                final.append((renamed, v))
                continue
            if lname in METHOD_RESPONSE_DROP or lname in GATEWAY_OWN:
                continue
            has_type = has_type or lname == "content-type"
            final.append((name, v))
        if not has_type:
            final.append(("Content-Type", content_type))
        # clean: no name the gateway sets itself, the Content-Type resolved (one pass here)
        return Outcome(status, final, body, None, False, True)
