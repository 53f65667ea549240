"""AWS_PROXY, pure: the Lambda proxy event (payload format 1.0) and its response rules.

``build_event`` makes the event exactly as API Gateway does (spec 8.3): header names keep the
client's case (``authorization`` becomes ``Authorization``, as CloudFront in front of AWS does),
the last value wins in ``headers`` and ``queryStringParameters``, every missing collection is
``null``, ``path`` is the raw path (not decoded, trailing slash kept) while greedy path
parameters lose a trailing slash, and a body whose ``Content-Type`` is one of the API's
``binaryMediaTypes`` is base64 with ``isBase64Encoded: true``.

``parse_response`` reads the function's answer by spec 8.4: ``statusCode`` (default 200, a
numeric string accepted), ``headers`` (scalars stringified), ``multiValueHeaders`` (lists, merged
with ``headers`` into one comma-separated header, the ``multiValueHeaders`` spelling winning),
``body`` and ``isBase64Encoded``; anything else, or an unknown key, is AWS's 502
(``IntegrationFailure``: "Malformed Lambda proxy response").
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from proxy.encoding import BinaryMediaTypes, Conversion, convert
from proxy.errors import IntegrationFailure
from proxy.headers import GATEWAY_OWN

if TYPE_CHECKING:
    from proxy.auth.lambda_authorizer import EventMaps

__all__ = ["IDENTITY_KEYS", "ProxyResponse", "build_event", "parse_response",
           "request_maps"]

# requestContext.identity always carries these, null when unknown (LS-snap, recorded from AWS)
IDENTITY_KEYS = ("accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
                 "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
                 "principalOrgId", "sourceIp", "user", "userAgent", "userArn")
_NULL_IDENTITY = dict.fromkeys(IDENTITY_KEYS)  # copied: dict.fromkeys was 6k instructions
# Header names the event treats apart, by their lowercase bytes: not passed to the function
# (hop-by-hop, or recomputed), spelled as CloudFront does, telling the body's type, or set by
# the gateway itself for the proxy event (its added_headers replace the client's).
_DROP, _AUTHORIZATION, _CONTENT_TYPE, _ADDED = 0, 1, 2, 3
_SPECIAL = {b"content-length": _DROP, b"connection": _DROP, b"authorization": _AUTHORIZATION,
            b"content-type": _CONTENT_TYPE, b"x-amzn-trace-id": _ADDED,
            b"x-forwarded-for": _ADDED, b"x-forwarded-port": _ADDED,
            b"x-forwarded-proto": _ADDED}
# A client's header names as the event spells them, with what _SPECIAL says of each and the
# lowercase name (a name sent in two spellings is one header): the same few names come in
# every request, so one lookup replaces lowering, a lookup and decoding (~1.2k of ~3k
# instructions a header). Bounded: past it, names are worked out each time.
_NAMES: dict[bytes, tuple[str, int | None, str]] = {}
_NAMES_MAX = 4096


def _name(raw_name: bytes) -> tuple[str, int | None, str]:
    lower = raw_name.lower()
    special = _SPECIAL.get(lower)
    entry = ("Authorization" if special == _AUTHORIZATION else raw_name.decode("latin-1"),
             special, lower.decode("latin-1"))
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[raw_name] = entry
    return entry


_NO_BINARY = BinaryMediaTypes(())
_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body",
                            "isBase64Encoded"})
MALFORMED = "Execution failed due to configuration error: Malformed Lambda proxy response"


def _query(raw_query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not raw_query:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        # decoded, "+" kept as it is (API Gateway decodes percent-escapes only)
        name = unquote(name)
        value = unquote(value)
        single[name] = value
        multi.setdefault(name, []).append(value)
    return (single, multi) if single else (None, None)


def request_maps(raw_headers: Sequence[tuple[bytes, bytes]], raw_query: str,
                 path_params: Mapping[str, str] | None,
                 added_headers: Sequence[tuple[str, str]] = ()) -> EventMaps:
    """The request's maps as a Lambda event carries them, the proxy event and a REQUEST
    authorizer's alike: a header name spelled as the client first sent it (``Authorization``
    as CloudFront spells it), its last value in ``headers``; Content-Length and Connection
    left out; the query decoded with ``+`` kept; a greedy path parameter without its trailing
    slash. ``added_headers`` (the gateway's: X-Amzn-Trace-Id and X-Forwarded-For, -Port and
    -Proto, the names ``_SPECIAL`` marks ``_ADDED``) replace a client's header of the same
    name, whatever its spelling."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    spelled: dict[str, str] = {}  # lowercase name -> the spelling it is kept under
    content_type = None
    for raw_name, raw_value in raw_headers:
        name, special, lower = _NAMES.get(raw_name) or _name(raw_name)
        if special == _DROP or (special == _ADDED and added_headers):
            continue
        value = raw_value.decode("latin-1")
        if special == _CONTENT_TYPE:
            content_type = value
        first = spelled.get(lower)
        if first is None:
            spelled[lower] = first = name
            multi_headers[name] = [value]
        else:
            multi_headers[first].append(value)
        headers[first] = value
    for name, value in added_headers:  # the client's of these names were left out above
        headers[name] = value
        multi_headers[name] = [value]
    query, multi_query = _query(raw_query) if raw_query else (None, None)
    params = {k: (v[:-1] if v.endswith("/") else v) for k, v in path_params.items()} \
        if path_params else None
    return (headers or None, multi_headers or None, query, multi_query, params, content_type)


def build_event(
    *,
    method: str,
    resource: str,
    raw_path: str,
    raw_headers: Sequence[tuple[bytes, bytes]],
    raw_query: str,
    path_params: Mapping[str, str] | None,
    stage_variables: dict[str, str] | None,
    body: bytes | None,
    binary: BinaryMediaTypes,
    request_context: dict[str, Any],
    added_headers: Sequence[tuple[str, str]] = (),
    authorizer: Mapping[str, Any] | None = None,
) -> bytes:
    """The event as JSON bytes.

    ``raw_path`` is the request path after the stage, as the client sent it; ``path_params``
    the matched values (``{"proxy": "a/b/"}``); ``added_headers`` what the gateway adds to what
    reaches the function (``X-Amzn-Trace-Id``, ``X-Forwarded-For``, ``X-Forwarded-Port``,
    ``X-Forwarded-Proto``); ``request_context`` the ``requestContext`` values, a
    dict the event takes over (``identity`` is completed with nulls); ``stage_variables`` a
    dict made once per stage, or None; ``authorizer`` a Lambda authorizer's ``principalId``
    and context (its values stringified, as ``$context.authorizer.*``) or Cognito's
    ``claims``.
    """
    headers, multi_headers, query, multi_query, params, content_type = request_maps(
        raw_headers, raw_query, path_params, added_headers)
    if not body:
        text: str | None = None
        encoded = False
    elif binary.matches_content_type(content_type):
        text = base64.b64encode(body).decode("ascii")
        encoded = True
    else:
        text = body.decode("utf-8", "replace")
        encoded = False
    context = request_context  # made for this event (aws_proxy.request_context): not copied
    identity = _NULL_IDENTITY.copy()
    identity.update(context.get("identity") or {})
    context["identity"] = identity
    if authorizer is not None:
        context["authorizer"] = {
            k: v if k in ("claims", "principalId", "integrationLatency") or v is None
            else _stringify(v) for k, v in authorizer.items()}
    event = {
        "resource": resource,
        "path": raw_path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": params,
        "stageVariables": stage_variables or None,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": encoded,
    }
    return orjson.dumps(event)


class ProxyResponse:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"ProxyResponse({self.status}, {self.headers!r}, {self.body!r})"


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()  # 1.5 -> "1.5", 1e+300 -> "1e300"
    raise IntegrationFailure(MALFORMED)


def parse_response(payload: bytes, *, binary: BinaryMediaTypes = _NO_BINARY,
                   accept: str | None = None, for_client: bool = False) -> ProxyResponse:
    """The client's response from a function's result.

    ``for_client``: the headers as the client gets them, without the names the gateway sets
    on every response itself (``proxy.headers.GATEWAY_OWN``) and with ``Content-Type:
    application/json`` when the function gives none: what the responder otherwise does in a
    second pass over them (8k instructions, callgrind).

    Raises ``IntegrationFailure`` (502) for a malformed result and ``ApiConfigurationError``
    (500) for a body that claims base64 but is not, where the gateway would decode it.
    """
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise IntegrationFailure(MALFORMED) from None
    if not isinstance(doc, dict) or not doc.keys() <= _RESPONSE_KEYS:
        raise IntegrationFailure(MALFORMED)
    status = doc.get("statusCode")
    if type(status) is not int or not 100 <= status <= 599:
        status = _status(status)
    single = doc.get("headers")
    multi = doc.get("multiValueHeaders")
    if single is not None and not isinstance(single, dict):
        raise IntegrationFailure(MALFORMED)
    if multi is not None and not isinstance(multi, dict):
        raise IntegrationFailure(MALFORMED)
    if multi:
        headers = _merged(multi, single, for_client)
    else:  # the common answer: "headers" alone, in one pass
        headers = []
        typed = False
        at: dict[str, int] = {}  # lower name -> its place in headers
        for name, value in (single or _NO_HEADERS).items():
            if value is None:
                continue
            text = value if type(value) is str else _stringify(value)
            lower = name.lower()
            if for_client:
                if lower in GATEWAY_OWN:
                    continue
                typed = typed or lower == "content-type"
            place = at.get(lower)
            if place is None:
                at[lower] = len(headers)
                headers.append((name, text))
            else:  # the same name in another case: one header, the first spelling
                spelling, before = headers[place]
                headers[place] = (spelling, f"{before}, {text}")
        if for_client and not typed:
            headers.append(_DEFAULT_TYPE)
    body = doc.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        raise IntegrationFailure(MALFORMED)
    encoded = doc.get("isBase64Encoded")
    if encoded is not None and not isinstance(encoded, bool):
        raise IntegrationFailure(MALFORMED)
    if encoded and data and binary.matches_accept(accept):
        # the same decoder as a non-proxy response's: unpadded base64 is read as Java reads it
        data = convert(data, Conversion.BASE64_DECODE)
    return ProxyResponse(status, headers, data)


_NO_HEADERS: dict[str, Any] = {}
# "API Gateway includes a Content-Type header for all integration responses" (DG)
_DEFAULT_TYPE = ("Content-Type", "application/json")


def _merged(multi: dict[str, Any], single: dict[str, Any] | None,
            for_client: bool) -> list[tuple[str, str]]:
    """``multiValueHeaders`` and ``headers`` as one list, a name once (the multi spelling)."""
    merged: dict[str, tuple[str, list[str]]] = {}  # lower name -> (spelling, values)
    for name, values in multi.items():
        if not isinstance(values, list):
            raise IntegrationFailure(MALFORMED)
        merged[name.lower()] = (name, [_stringify(v) for v in values if v is not None])
    for name, value in (single or _NO_HEADERS).items():
        if value is None:
            continue
        entry = merged.get(name.lower())
        if entry is None:
            merged[name.lower()] = (name, [_stringify(value)])
        else:
            entry[1].append(_stringify(value))
    headers = [(spelling, ", ".join(values)) for lower, (spelling, values) in merged.items()
               if values and not (for_client and lower in GATEWAY_OWN)]
    if for_client and not merged.get("content-type", ("", ()))[1]:
        headers.append(_DEFAULT_TYPE)
    return headers


def _status(value: Any) -> int:
    if value is None:
        return 200
    if isinstance(value, bool):
        raise IntegrationFailure(MALFORMED)
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise IntegrationFailure(MALFORMED)
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 100 <= value <= 599:
        raise IntegrationFailure(MALFORMED)
    return value
