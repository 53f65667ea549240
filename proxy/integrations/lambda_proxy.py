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
import binascii
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import orjson

from proxy.errors import ApiConfigurationError, IntegrationFailure

__all__ = ["IDENTITY_KEYS", "ProxyResponse", "build_event", "is_binary", "parse_response"]

# requestContext.identity always carries these, null when unknown (LS-snap, recorded from AWS)
IDENTITY_KEYS = ("accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
                 "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
                 "principalOrgId", "sourceIp", "user", "userAgent", "userArn")
# not passed to the function (hop-by-hop, or recomputed)
_DROPPED = frozenset({b"content-length", b"connection"})
_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body",
                            "isBase64Encoded"})
MALFORMED = "Execution failed due to configuration error: Malformed Lambda proxy response"


def _matches(media_type: str, patterns: Sequence[str]) -> bool:
    media_type = media_type.split(";", 1)[0].strip().lower()
    if not media_type:
        return False
    major = media_type.split("/", 1)[0]
    for pattern in patterns:
        p = pattern.lower()
        if p in ("*/*", media_type) or (p.endswith("/*") and p[:-2] == major):
            return True
    return False


def is_binary(content_type: str | None, binary_media_types: Sequence[str]) -> bool:
    """Whether a body of ``content_type`` is binary for an API with ``binaryMediaTypes``."""
    return bool(binary_media_types) and content_type is not None and \
        _matches(content_type, binary_media_types)


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


def build_event(
    *,
    method: str,
    resource: str,
    raw_path: str,
    raw_headers: Sequence[tuple[bytes, bytes]],
    raw_query: str,
    path_params: Mapping[str, str] | None,
    stage_variables: Mapping[str, str] | None,
    body: bytes | None,
    binary_media_types: Sequence[str],
    request_context: Mapping[str, Any],
    added_headers: Sequence[tuple[str, str]] = (),
    authorizer: Mapping[str, Any] | None = None,
) -> bytes:
    """The event as JSON bytes.

    ``raw_path`` is the request path after the stage, as the client sent it; ``path_params``
    the matched values (``{"proxy": "a/b/"}``); ``added_headers`` what the gateway adds to what
    reaches the function (``X-Amzn-Trace-Id``, ``X-Forwarded-For``, ``X-Forwarded-Port``,
    ``X-Forwarded-Proto``); ``request_context`` the ``requestContext`` values (``identity`` is
    completed with nulls); ``authorizer`` a Lambda authorizer's ``principalId`` and context
    (its values stringified, as ``$context.authorizer.*``) or Cognito's ``claims``.
    """
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    content_type = None
    for raw_name, raw_value in raw_headers:
        lower = raw_name.lower()
        if lower in _DROPPED:
            continue
        name = "Authorization" if lower == b"authorization" else raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if lower == b"content-type":
            content_type = value
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    for name, value in added_headers:
        headers[name] = value
        multi_headers[name] = [value]
    query, multi_query = _query(raw_query)
    params = {k: (v[:-1] if v.endswith("/") else v) for k, v in path_params.items()} \
        if path_params else None
    if not body:
        text: str | None = None
        encoded = False
    elif is_binary(content_type, binary_media_types):
        text = base64.b64encode(body).decode("ascii")
        encoded = True
    else:
        text = body.decode("utf-8", "replace")
        encoded = False
    context = dict(request_context)
    identity = dict.fromkeys(IDENTITY_KEYS)
    identity.update(request_context.get("identity") or {})
    context["identity"] = identity
    if authorizer is not None:
        context["authorizer"] = {
            k: v if k in ("claims", "principalId", "integrationLatency") or v is None
            else _stringify(v) for k, v in authorizer.items()}
    event = {
        "resource": resource,
        "path": raw_path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": params,
        "stageVariables": dict(stage_variables) if stage_variables else None,
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


def parse_response(payload: bytes, *, binary_media_types: Sequence[str] = (),
                   accept: str | None = None) -> ProxyResponse:
    """The client's response from a function's result.

    Raises ``IntegrationFailure`` (502) for a malformed result and ``ApiConfigurationError``
    (500) for a body that claims base64 but is not, where the gateway would decode it.
    """
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise IntegrationFailure(MALFORMED) from None
    if not isinstance(doc, dict) or not doc.keys() <= _RESPONSE_KEYS:
        raise IntegrationFailure(MALFORMED)
    status = _status(doc.get("statusCode"))
    single = doc.get("headers")
    multi = doc.get("multiValueHeaders")
    if single is not None and not isinstance(single, dict):
        raise IntegrationFailure(MALFORMED)
    if multi is not None and not isinstance(multi, dict):
        raise IntegrationFailure(MALFORMED)
    merged: dict[str, tuple[str, list[str]]] = {}  # lower name -> (spelling, values)
    for name, values in (multi or {}).items():
        if not isinstance(values, list):
            raise IntegrationFailure(MALFORMED)
        merged[name.lower()] = (name, [_stringify(v) for v in values if v is not None])
    for name, value in (single or {}).items():
        if value is None:
            continue
        entry = merged.get(name.lower())
        if entry is None:
            merged[name.lower()] = (name, [_stringify(value)])
        else:
            entry[1].append(_stringify(value))
    headers = [(spelling, ", ".join(values)) for spelling, values in merged.values() if values]
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
    if encoded and data:
        first = accept.split(",", 1)[0] if accept else None
        if is_binary(first, binary_media_types):
            try:
                data = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ApiConfigurationError() from None
    return ProxyResponse(status, headers, data)


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
