"""The integration request of a non-proxy integration (HTTP, AWS, MOCK), compiled once per
method: which request template a request gets, the payload it sends, and the parameters it maps.

Per request, in AWS's order:

1. the template, chosen by the request's media type (a missing ``Content-Type`` is
   ``application/json``), else the ``$default`` template; with none, ``passthroughBehavior``
   passes the body through or answers 415 UNSUPPORTED_MEDIA_TYPE (spec 8.2);
2. the body with its ``Content-Encoding`` undone, converted by ``contentHandling`` and
   ``binaryMediaTypes`` (spec 10.2: a binary body becomes base64 text for CONVERT_TO_TEXT, a
   text body base64-decoded for CONVERT_TO_BINARY, a decode failure 500); a conversion toward
   text comes before the template, one toward binary decodes the template's output;
3. the template rendered: ``$input`` over that body and the method request's parameters,
   ``$context`` (``proxy.context.ContextView``), ``$stageVariables``; a body a template cannot
   read as JSON is AWS's 400 ``Could not parse request body into json: ...``, any other
   failure 500;
4. ``requestParameters`` (``integration.request.{path|querystring|header}.NAME``, spec 8.5),
   then ``$context.requestOverride.*`` over them (an override is final);
5. a mapped or overridden header AWS reserves (Content-Length, Transfer-Encoding, ...) answers
   500; the ones it silently drops (Connection, Expect, Proxy-Authenticate, TE, Via) go.

The request's query string and headers reach templates as last-value-wins mappings (as AWS's
``$input.params``), built only when a template reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from aiohttp import hdrs

from proxy.bounded_log import BoundedLog
from proxy.config.model import Integration
from proxy.context import VARIABLES, ContextView, RequestContext, typed
from proxy.encoding import (
    BinaryMediaTypes,
    Conversion,
    convert,
    media_type,
    request_conversion,
)
from proxy.errors import ApiConfigurationError, UnparsableBody, UnsupportedMediaType
from proxy.headers import (
    MAPPED_DROP,
    MAPPED_DROP_AWS,
    RESERVED_MAPPED,
    RESERVED_MAPPED_AWS,
    header_safe,
    reserved_header_mapping,
)
from proxy.integrations.base import MethodScope
from proxy.integrations.mapped_body import BodyDoc, BodySource, compile_body_source
from proxy.integrations.params import compile_source
from proxy.vtl import (
    BAD_REQUEST_BODY,
    Overrides,
    Template,
    TemplateRuntimeError,
    compile_template,
    request_overrides,
    walk_context,
)

__all__ = ["DEFAULT_TEMPLATE_KEY", "MappedRequest", "MethodParams", "RequestMapping",
           "overridden", "render", "render_error"]

log = logging.getLogger("sluice.integration")
_bounded = BoundedLog(log)

DEFAULT_TEMPLATE_KEY = "$default"
_MISSING_CONTENT_TYPE = "application/json"


def render_error(err: TemplateRuntimeError, request_side: bool, request_id: str) -> Exception:
    """The gateway error of a failed render: a request body a request template cannot read as
    JSON is the client's 400; anything else is the API's 500 (AWS logs "Execution failed due to
    configuration error: Unable to transform request|response")."""
    if request_side and err.response_type == BAD_REQUEST_BODY:
        return UnparsableBody(err.message)
    _bounded.warning("mapping template failed for request %s: %s", request_id, err.message)
    return ApiConfigurationError()


def render(template: Template, data: bytes, lenient: bool, params: MethodParams,
           stage_variables: Mapping[str, str], overrides: Overrides, request_side: bool,
           request_id: str) -> bytes:
    """A request or response template rendered over ``data``, as UTF-8. ``lenient``: a text
    payload, given to the engine as bytes (U+FFFD for what is not UTF-8); otherwise a payload
    that is not UTF-8 is binary and cannot enter a template (500). A failed render is
    ``render_error``'s."""
    text: str | bytes
    if lenient:
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiConfigurationError() from None
    try:
        rendered = template.render_text(text, params, params, stage_variables, overrides)
    except TemplateRuntimeError as err:
        raise render_error(err, request_side, request_id) from None
    return rendered.encode("utf-8", "replace")  # lone surrogates: "?"


def _query(raw: str) -> dict[str, str]:
    # percent-decoded, "+" kept, the last value winning: AWS's $input.params().querystring
    out: dict[str, str] = {}
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            out[unquote(name)] = unquote(value)
    return out


class MethodParams(ContextView):
    """The method request as templates read it, request and response templates alike: its
    parameters (``$input.params()``: the path parameters, and the query string and headers
    as last-value-wins mappings made when first read) and its ``$context``, with the
    engine's read of a variable named in full (``vtl_path``: ``$context.identity.sourceIp``
    in one call instead of a nested view). One object per request (~2k instructions, where
    a view and three mappings made up front cost ~6k, callgrind)."""

    __slots__ = ("_headers", "_query")

    _headers: dict[str, str]
    _query: dict[str, str]

    @property
    def path_params(self) -> Mapping[str, str]:
        return self._ctx.path_params

    @property
    def querystring(self) -> Mapping[str, str]:
        try:
            return self._query
        except AttributeError:
            query = self._query = _query(self._ctx.query_string)
            return query

    @property
    def headers(self) -> Mapping[str, str]:
        try:
            return self._headers
        except AttributeError:
            request = self._ctx.request
            assert request is not None
            headers = self._headers = dict(request.headers.items())
            return headers

    def vtl_path(self, dotted: str, names: tuple[str, ...]) -> Any:
        attr = _TEXT_ATTRS.get(dotted)
        if attr is not None:  # most reads ($context.requestId, .stage): what typed() gives
            raw = getattr(self._ctx, attr)
            if type(raw) is str and raw:
                return raw
        variable = VARIABLES.get(dotted)
        if variable is None or variable.kind == "unset":  # authorizer.KEY, .claims.NAME, ...
            return walk_context(self, dotted, names)
        return typed(self._ctx, variable)  # a variable named in full


# the variables read as text straight from an attribute of the request state
_TEXT_ATTRS = {name: v.attr for name, v in VARIABLES.items()
               if v.kind in ("id", "text") and v.attr is not None and not v.path
               and v.key is None}


class MappedRequest:
    """What the integration sends: the payload, the mapped and overridden parameters, and the
    overrides and parameters the response side reads again; ``content_type`` is the client's
    (read once, for the template and the backend request)."""

    __slots__ = ("body", "content_type", "headers", "overrides", "params", "path", "query")

    def __init__(self, body: bytes, path: dict[str, str], query: list[tuple[str, str]],
                 headers: list[tuple[str, str]], overrides: Overrides,
                 params: MethodParams, content_type: str | None = None) -> None:
        self.body = body
        self.path = path
        self.query = query
        self.headers = headers
        self.overrides = overrides
        self.params = params
        self.content_type = content_type


# A request parameter source: the request state and the (lazily parsed) body.
_Source = Callable[[RequestContext, BodyDoc], str | None]


_BODY = "method.request.body"


def _compile_request_source(expr: str, stage_variables: Mapping[str, str]) -> _Source | None:
    if expr == _BODY or expr.startswith(_BODY + "."):
        body_source: BodySource | None = compile_body_source(expr[len(_BODY) + 1:])
        if body_source is None:
            return None
        get_body = body_source
        return lambda _c, doc: get_body(doc)
    getter = compile_source(expr, stage_variables)
    if getter is None:
        return None
    return lambda c, _doc: getter(c)


_NO_DOC = BodyDoc(b"")  # for a method whose mappings read no body


class RequestMapping:
    """The request side of one non-proxy method, compiled at deployment load."""

    __slots__ = ("_binary", "_content_handling", "_conversion", "_default", "_drop",
                 "_header_params", "_maps_params", "_passthrough", "_path_params",
                 "_query_params", "_reads_body", "_reserved", "_stage_variables", "_templates",
                 "broken", "has_templates")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        aws = integration.type == "AWS"
        self._reserved = RESERVED_MAPPED_AWS if aws else RESERVED_MAPPED
        self._drop = MAPPED_DROP_AWS if aws else MAPPED_DROP
        self._stage_variables = scope.stage_variables
        self._binary: BinaryMediaTypes = scope.binary
        self._content_handling = integration.content_handling
        # without binaryMediaTypes no Content-Type is binary: the conversion is the method's
        self._conversion = None if scope.binary.configured else request_conversion(
            False, integration.content_handling)
        self._passthrough = integration.passthrough_behavior
        self._templates: dict[str, Template] = {}
        self._default: Template | None = None
        for key, text in integration.request_templates.items():
            # checked by the loader: no TemplateError here (compile_template remembers it)
            template = compile_template(text)
            if key == DEFAULT_TEMPLATE_KEY:
                self._default = template
            else:
                self._templates.setdefault(media_type(key) or key, template)
        self.has_templates = bool(integration.request_templates)
        self._path_params: list[tuple[str, _Source]] = []
        self._query_params: list[tuple[str, _Source]] = []
        self._header_params: list[tuple[str, _Source]] = []
        # AWS accepts the method and answers every call 500 (recorded)
        self.broken = reserved_header_mapping(integration.request_parameters, self._reserved)
        self._reads_body = False
        for target, expr in integration.request_parameters.items():
            location, _, name = target.removeprefix("integration.request.").partition(".")
            source = _compile_request_source(expr, scope.stage_variables)
            if source is None:
                continue
            self._reads_body = self._reads_body or expr.startswith("method.request.body")
            if location == "path":
                self._path_params.append((name, source))
            elif location in ("querystring", "multivaluequerystring"):
                self._query_params.append((name, source))
            elif location in ("header", "multivalueheader"):
                self._header_params.append((name, source))
        self._maps_params = bool(self._path_params or self._query_params
                                 or self._header_params)

    def template_for(self, content_type: str | None) -> Template | None:
        """The request template for a request of this ``Content-Type``; None to pass the body
        through; ``UnsupportedMediaType`` where ``passthroughBehavior`` refuses (spec 8.2)."""
        mtype = media_type(content_type) if content_type else _MISSING_CONTENT_TYPE
        template = self._templates.get(mtype or _MISSING_CONTENT_TYPE, self._default)
        if template is not None:
            return template
        behavior = self._passthrough
        if behavior == "WHEN_NO_MATCH" or (behavior == "WHEN_NO_TEMPLATES"
                                           and not self.has_templates):
            return None
        raise UnsupportedMediaType()

    async def map(self, ctx: RequestContext) -> MappedRequest:
        """The integration request of one method request (spec 8.2, 8.5, 10.2)."""
        return self.map_now(ctx) or await self.map_read(ctx)

    async def map_read(self, ctx: RequestContext) -> MappedRequest:
        """``map`` where ``map_now`` could not answer: the body is read whole, or decoded."""
        request = ctx.request
        request_body = ctx.body
        assert request is not None and request_body is not None
        content_type = request.headers.get(hdrs.CONTENT_TYPE)
        data = await request_body.decoded(request.headers.get(hdrs.CONTENT_ENCODING))
        return self._mapped(ctx, content_type, self.template_for(content_type), data)

    def map_now(self, ctx: RequestContext) -> MappedRequest | None:
        """``map`` without a coroutine (~2k instructions) when nothing is to be awaited: the
        body, if one is read, is in memory and not encoded; None otherwise (await ``map_read``)."""
        request = ctx.request
        assert request is not None
        content_type = request.headers.get(hdrs.CONTENT_TYPE)
        template = self.template_for(content_type)
        data = b""
        request_body = ctx.body
        if request_body is not None and (template is None or template.uses_input
                                         or self._reads_body):
            data = request_body.data  # type: ignore[assignment]
            if data is None or (data and request.headers.get(hdrs.CONTENT_ENCODING)
                                is not None):
                return None
        return self._mapped(ctx, content_type, template, data)

    def _mapped(self, ctx: RequestContext, content_type: str | None,
                template: Template | None, data: bytes) -> MappedRequest:
        conversion = self._conversion
        if conversion is None:
            conversion = request_conversion(self._binary.matches_content_type(content_type),
                                            self._content_handling)
        params = MethodParams(ctx)
        overrides = Overrides()
        if template is not None:
            # toward text before the template (it reads the base64), toward binary after it
            if data and conversion is Conversion.BASE64_ENCODE:
                data = convert(data, conversion)
            body = render(template, data, conversion is Conversion.TEXT, params,
                          self._stage_variables, overrides, True, ctx.request_id)
            if body and conversion is Conversion.BASE64_DECODE:
                body = convert(body, conversion)
        else:
            body = data = convert(data, conversion) if data else data
        if not self._maps_params and overrides.request is None:  # nothing to map
            return MappedRequest(body, {}, [], [], overrides, params, content_type)
        doc = BodyDoc(data) if self._reads_body else _NO_DOC
        path = {}
        for name, source in self._path_params:
            value = source(ctx, doc)
            if value is not None:
                path[name] = value
        query: list[tuple[str, str]] = []
        for name, source in self._query_params:
            value = source(ctx, doc)
            if value is not None:
                query.append((name, value))
        mapped: list[tuple[str, str]] = []
        for name, source in self._header_params:
            value = source(ctx, doc)
            if value is not None:
                mapped.append((name, value))
        req = overrides.request
        if req is not None:
            wanted = request_overrides(req)
            if wanted["path"]:
                path.update({k: v if isinstance(v, str) else ",".join(v)
                             for k, v in wanted["path"].items()})
            if wanted["querystring"]:
                query = overridden(query, wanted["querystring"], fold=False)
            if wanted["header"]:
                mapped = overridden(mapped, wanted["header"], fold=True)
        out_headers: list[tuple[str, str]] = []
        for name, value in mapped:
            lname = name.lower()
            if lname in self._reserved or not header_safe(name, value):
                raise ApiConfigurationError()
            if lname not in self._drop:
                out_headers.append((name, value))
        return MappedRequest(body, path, query, out_headers, overrides, params, content_type)


def overridden(pairs: list[tuple[str, str]], overrides: Mapping[str, Any],
                *, fold: bool) -> list[tuple[str, str]]:
    """``pairs`` with every name in ``overrides`` replaced by its value(s)."""
    names = {k.lower() if fold else k for k in overrides}
    out = [(k, v) for k, v in pairs if (k.lower() if fold else k) not in names]
    for name, value in overrides.items():
        if isinstance(value, list):
            out.extend((name, v) for v in value)
        else:
            out.append((name, value))
    return out
