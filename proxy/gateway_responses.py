"""Gateway responses: the answers the gateway itself gives (spec section 5).

Each type has AWS's default status, ``x-amzn-ErrorType`` and byte-exact default body. An API may
customise a type (or DEFAULT_4XX / DEFAULT_5XX, which then apply to every 4xx / 5xx type not
customised itself) with ``x-amazon-apigateway-gateway-responses``: a status code, headers from
``gatewayresponse.header.*`` and a body template. Templates are not VTL on AWS either: only
``$context.*`` and ``$stageVariables.*`` are substituted.

Rendering is compiled per stage at deployment load; an uncustomised response is pre-encoded once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson

from proxy.config.model import GatewayResponseDef
from proxy.context import RequestContext, getter


@dataclass(frozen=True, slots=True)
class ResponseType:
    name: str
    status: int
    error_type: str | None
    message: str | None  # $context.error.message
    # The byte-exact body AWS sends by default. 4xx template responses render as
    # {"message":"..."} (no space); 5xx integration errors carry a space after the colon.
    body: bytes
    customisable: bool = True


def _t(name: str, status: int, error_type: str | None, message: str | None,
       body: bytes | None = None, *, customisable: bool = True) -> ResponseType:
    if body is None:
        body = b'{"message":' + orjson.dumps(message) + b"}"
    return ResponseType(name, status, error_type, message, body, customisable)


_ISE = b'{"message": "Internal server error"}'

TYPES: dict[str, ResponseType] = {t.name: t for t in (
    _t("ACCESS_DENIED", 403, "AccessDeniedException",
       "User is not authorized to access this resource",
       b'{"Message":"User is not authorized to access this resource"}'),
    _t("API_CONFIGURATION_ERROR", 500, "InternalServerErrorException", "Internal server error",
       _ISE),
    _t("AUTHORIZER_CONFIGURATION_ERROR", 500, "AuthorizerConfigurationException", None,
       b'{"message": null}'),
    _t("AUTHORIZER_FAILURE", 500, "AuthorizerFailureException", None, b'{"message": null}'),
    _t("BAD_REQUEST_PARAMETERS", 400, "BadRequestException", "Missing required request parameters"),
    _t("BAD_REQUEST_BODY", 400, "BadRequestException", "Invalid request body",
       b'{"message": "Invalid request body"}'),
    _t("DEFAULT_4XX", 400, None, None),
    _t("DEFAULT_5XX", 500, "InternalServerErrorException", "Internal server error", _ISE),
    _t("EXPIRED_TOKEN", 403, "ExpiredTokenException",
       "The security token included in the request is expired"),
    # The DG documents 504; AWS answers 502 for failed integrations in practice (spec 4).
    _t("INTEGRATION_FAILURE", 502, "InternalServerErrorException", "Internal server error", _ISE),
    _t("INTEGRATION_TIMEOUT", 504, "InternalServerErrorException", "Endpoint request timed out",
       b'{"message": "Endpoint request timed out"}'),
    _t("INVALID_API_KEY", 403, "ForbiddenException", "Forbidden"),
    _t("INVALID_SIGNATURE", 403, "InvalidSignatureException",
       "The request signature we calculated does not match the signature you provided"),
    _t("MISSING_AUTHENTICATION_TOKEN", 403, "MissingAuthenticationTokenException",
       "Missing Authentication Token"),
    _t("QUOTA_EXCEEDED", 429, "LimitExceededException", "Limit Exceeded"),
    # Plain text and not customisable on AWS (DG known issues).
    _t("REQUEST_TOO_LARGE", 413, None, "HTTP content length exceeded 10485760 bytes.",
       b"HTTP content length exceeded 10485760 bytes.", customisable=False),
    _t("RESOURCE_NOT_FOUND", 404, "NotFoundException", "Not Found"),
    _t("THROTTLED", 429, "TooManyRequestsException", "Too Many Requests"),
    _t("UNAUTHORIZED", 401, "UnauthorizedException", "Unauthorized"),
    _t("UNSUPPORTED_MEDIA_TYPE", 415, "UnsupportedMediaTypeException", "Unsupported Media Type"),
    _t("WAF_FILTERED", 403, "ForbiddenException", "Forbidden"),
    # Not AWS types: fixed answers that the gateway gives outside any API's customisation.
    _t("STAGE_NOT_FOUND", 403, "ForbiddenException", "Forbidden", customisable=False),
    # HTTP/0.9, or a path that would climb out of its backend prefix (proxy.paths); AWS's front
    # end answers such requests before any API sees them, so they are not customisable.
    _t("BAD_REQUEST", 400, "BadRequestException", "Bad Request", customisable=False),
    # a request body that did not arrive within server.clientBodyTimeoutSeconds (nginx: 408)
    _t("REQUEST_TIMEOUT", 408, None, "Request Timeout", customisable=False),
    # FAIL_WITH_403 for an unauthorised Cache-Control: max-age=0; the DG says "a 403
    # Unauthorized response" without a body, so Sluice sends this one (falls back to DEFAULT_4XX).
    _t("CACHE_CONTROL_FORBIDDEN", 403, "AccessDeniedException", "Unauthorized"),
)}

_NAME = r"([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)"
_VAR = re.compile(
    rf"\$(?:\{{(context|stageVariables)\.{_NAME}\}}|(context|stageVariables)\.{_NAME})")

@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_type: str


# One gateway response source or template variable, compiled once per stage: it reads the
# request and the error being answered (its type and $context.error.message).
Read = Callable[[RequestContext, ResponseType, str | None], str | None]

_ERROR_VARIABLES: Mapping[str, Read] = {
    "error.message": lambda _c, _t, message: message,
    "error.messageString": lambda _c, _t, message: orjson.dumps(message).decode(),
    "error.responseType": lambda _c, rtype, _m: rtype.name,
}


def _context_read(name: str) -> Read:
    """``$context.name`` for a gateway response: the error variables, then the request's."""
    found = _ERROR_VARIABLES.get(name)
    if found is not None:
        return found
    read = getter(name)
    return lambda ctx, _t, _m: read(ctx)


def _request_read(kind: str, name: str) -> Read:
    # a gateway response may answer before the request is on the state (ctx.request None)
    if kind == "header":
        return lambda c, _t, _m: None if c.request is None else c.request.headers.get(name)
    if kind == "querystring":
        return lambda c, _t, _m: None if c.request is None else c.request.query.get(name)
    return lambda c, _t, _m: None if c.request is None else c.path_params.get(name)


def _source_read(source: str, stage_variables: Mapping[str, str]) -> Read | None:
    """A ``gatewayresponse.header.*`` source: a 'literal', stageVariables.X, context.X or
    method.request.{header,querystring,path}.X; None for anything else (no header)."""
    if len(source) >= 2 and source[0] == source[-1] == "'":
        literal = source[1:-1]
        return lambda _c, _t, _m: literal
    if source.startswith("stageVariables."):
        stage_value = stage_variables.get(source[len("stageVariables."):])
        return lambda _c, _t, _m: stage_value
    if source.startswith("context."):
        return _context_read(source[len("context."):])
    for prefix, kind in (("method.request.header.", "header"),
                         ("method.request.querystring.", "querystring"),
                         ("method.request.path.", "path")):
        if source.startswith(prefix):
            return _request_read(kind, source[len(prefix):])
    return None


def _template(template: str, stage_variables: Mapping[str, str]) -> tuple[str | Read, ...]:
    """A body template as its text and its variables, in order (not VTL: only ``$context.*``
    and ``$stageVariables.*``, each replaced by its value or nothing)."""
    parts: list[str | Read] = []
    at = 0
    for m in _VAR.finditer(template):
        parts.append(template[at:m.start()])
        name = m.group(2) or m.group(4)
        if (m.group(1) or m.group(3)) == "stageVariables":
            parts.append(stage_variables.get(name) or "")
        else:
            parts.append(_context_read(name))
        at = m.end()
    parts.append(template[at:])
    return tuple(p for p in parts if p != "")


@dataclass(frozen=True, slots=True)
class _Custom:
    """One customised response type of one stage, compiled."""

    status: int | None
    headers: tuple[tuple[str, Read], ...]
    template: tuple[str, tuple[str | Read, ...]] | None  # (content type, parts)

    @classmethod
    def of(cls, definition: GatewayResponseDef, stage_variables: Mapping[str, str]) -> _Custom:
        headers = []
        for target, source in definition.response_parameters.items():
            read = _source_read(source, stage_variables)
            if read is not None:
                headers.append((target.removeprefix("gatewayresponse.header."), read))
        templates = definition.response_templates
        template = None
        if templates:
            content_type, text = ("application/json", templates["application/json"]) \
                if "application/json" in templates else next(iter(templates.items()))
            template = (content_type, _template(text, stage_variables))
        return cls(definition.status_code, tuple(headers), template)


class StageGatewayResponses:
    """The gateway responses of one stage: AWS defaults merged with the API's customisation,
    its sources and templates compiled here (a render reads values, it parses nothing)."""

    __slots__ = ("_custom",)

    def __init__(self, custom: Mapping[str, GatewayResponseDef],
                 stage_variables: Mapping[str, str]) -> None:
        self._custom = {name: _Custom.of(definition, stage_variables)
                        for name, definition in custom.items()}

    def _definition(self, rtype: ResponseType) -> _Custom | None:
        if not rtype.customisable:
            return None
        own = self._custom.get(rtype.name)
        if own is not None:
            return own
        fallback = "DEFAULT_4XX" if rtype.status < 500 else "DEFAULT_5XX"
        return self._custom.get(fallback)

    def render(self, type_name: str, ctx: RequestContext, message: str | None = None,
               error_type: str | None = None) -> Rendered:
        """``message``: ``$context.error.message`` when not the type's own; ``error_type``: the
        ``x-amzn-ErrorType`` when AWS names the cause more finely than the type does."""
        rtype = TYPES[type_name]
        content_type = "text/plain" if type_name == "REQUEST_TOO_LARGE" else "application/json"
        definition = self._definition(rtype)
        if message is None:
            message = rtype.message
        own = _error_type(rtype) if error_type is None else (("x-amzn-ErrorType", error_type),)
        if definition is None:
            body = rtype.body if message == rtype.message else _message_body(rtype, message)
            return Rendered(rtype.status, own, body, content_type)
        status = definition.status or rtype.status
        headers = list(own)
        for name, read in definition.headers:
            got = read(ctx, rtype, message)
            if got is not None:
                headers.append((name, got))
        if definition.template is not None:
            content_type, parts = definition.template
            body = "".join(
                part if isinstance(part, str) else (part(ctx, rtype, message) or "")
                for part in parts).encode()
        else:
            body = rtype.body if message == rtype.message else _message_body(rtype, message)
        return Rendered(status, tuple(headers), body, content_type)


def _error_type(rtype: ResponseType) -> tuple[tuple[str, str], ...]:
    if rtype.error_type is None:
        return ()
    return (("x-amzn-ErrorType", rtype.error_type),)


def _message_body(rtype: ResponseType, message: str | None) -> bytes:
    # keep AWS's spaced form for 5xx and for BAD_REQUEST_BODY (recorded spaced: its default
    # body, so also its other messages, such as a request template's parse error)
    if rtype.status >= 500 or rtype.name == "BAD_REQUEST_BODY":
        return b'{"message": ' + orjson.dumps(message) + b"}"
    if rtype.name == "ACCESS_DENIED":  # AWS's capital M, whatever the message (spec 5.1)
        return b'{"Message":' + orjson.dumps(message) + b"}"
    return b'{"message":' + orjson.dumps(message) + b"}"
