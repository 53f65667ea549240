"""Lambda authorizers (TOKEN and REQUEST): everything but the call to the function.

Per request: the identity is read from its sources and checked before any call
(``LambdaAuthorizer.token`` / ``.request_identity``: a missing token, or one failing
``identityValidationExpression``, is 401 UNAUTHORIZED with no call); a warm ``ResultCache``
answers by identity; otherwise the event (``token_event`` / ``request_event``) goes to the
function and its answer becomes an ``AuthorizerResult`` (``parse_output``) or AWS's error
(``function_error``). The result's policy is then evaluated for the request's method ARN, cached
or not, as AWS evaluates a cached policy against every method it is reused for.

What AWS answers (DG lambda authorizer pages, and observed responses):

- the function fails with the exact message ``Unauthorized``: 401 ``{"message":"Unauthorized"}``;
- any other failure (another error, a timeout, a crash) or a malformed answer: 500
  AUTHORIZER_CONFIGURATION_ERROR, ``x-amzn-ErrorType: AuthorizerConfigurationException``,
  ``{"message": null}`` -- observed for thrown errors (auth0 jwt-rsa-aws-custom-authorizer#6,
  chalice#670) and malformed outputs (serverless/examples#305). AUTHORIZER_FAILURE is not
  observed for Lambda authorizers, so Sluice does not answer it here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import orjson
from multidict import MultiMapping

from proxy.auth.policy import Policy, PolicyError, parse_policy
from proxy.errors import AuthError, AuthorizerConfigurationError, Unauthorized

__all__ = [
    "AuthorizerResult",
    "IdentitySource",
    "LambdaAuthorizer",
    "ResultCache",
    "function_error",
    "parse_identity_sources",
    "parse_output",
    "request_event",
    "stringify",
    "token_event",
]

SourceKind = Literal["header", "querystring", "stageVariables", "context"]

_SOURCE = re.compile(
    r"method\.request\.(header|querystring)\.([A-Za-z0-9._$-]+)"
    r"|(stageVariables|context)\.([A-Za-z0-9._$-]+)")


@dataclass(frozen=True, slots=True)
class IdentitySource:
    kind: SourceKind
    name: str

    def __str__(self) -> str:
        if self.kind in ("header", "querystring"):
            return f"method.request.{self.kind}.{self.name}"
        return f"{self.kind}.{self.name}"


def parse_identity_sources(text: str) -> tuple[IdentitySource, ...]:
    """``method.request.header.Auth, method.request.querystring.q, stageVariables.v,
    context.x`` (comma-separated; path parameters cannot be identity sources). Raises
    ``ValueError`` saying what is allowed."""
    sources = []
    for part in text.split(","):
        m = _SOURCE.fullmatch(part.strip())
        if m is None:
            raise ValueError(
                f"{part.strip()!r} is not an identity source: use method.request.header.NAME, "
                "method.request.querystring.NAME, stageVariables.NAME or context.NAME, "
                "separated by commas")
        kind = m[1] or m[3]
        sources.append(IdentitySource(kind, m[2] or m[4]))  # type: ignore[arg-type]
    return tuple(sources)


class LambdaAuthorizer:
    """One TOKEN or REQUEST authorizer, compiled at deployment load."""

    __slots__ = ("caching", "header", "sources", "type", "validation")

    def __init__(self, type: Literal["TOKEN", "REQUEST"], sources: tuple[IdentitySource, ...],
                 *, validation: re.Pattern[str] | None = None, ttl_seconds: int = 300) -> None:
        self.type = type
        self.sources = sources
        self.caching = ttl_seconds > 0
        # A TOKEN authorizer's one source is a header (method.request.header.Authorization
        # unless the definition says otherwise).
        self.header = sources[0].name if type == "TOKEN" and sources else "Authorization"
        self.validation = validation if type == "TOKEN" else None

    def token(self, headers: MultiMapping[str]) -> str:
        """A TOKEN authorizer's identity; a missing or empty token, or one that fails
        ``identityValidationExpression`` (a whole-string match, as Java's ``matches``), is
        401 without a call."""
        token = headers.get(self.header)
        if not token or (self.validation is not None and
                         self.validation.fullmatch(token) is None):
            raise Unauthorized
        return token

    def request_identity(self, values: Iterable[str | None]) -> tuple[str, ...] | None:
        """A REQUEST authorizer's cache key: every identity source's value, in the sources'
        order (read by getters compiled at load, ``proxy.authorizers.custom``). With caching
        on, a missing or empty one is 401 without a call; with caching off there is no key
        (None, ``values`` not read) and the function is called whatever the request holds."""
        if not self.caching:
            return None
        key = tuple(values)
        if not all(key):
            raise Unauthorized
        return key  # type: ignore[return-value]  # no None left


def token_event(token: str, method_arn: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}


# headers, multiValueHeaders, queryStringParameters, multiValueQueryStringParameters,
# pathParameters (None where empty) and the Content-Type, as
# proxy.integrations.lambda_proxy.request_maps makes them for the proxy event (that package
# imports this one, so the caller makes them)
EventMaps = tuple[dict[str, str] | None, dict[str, list[str]] | None, dict[str, str] | None,
                  dict[str, list[str]] | None, dict[str, str] | None, str | None]


def request_event(*, method_arn: str, resource: str, path: str, http_method: str,
                  maps: EventMaps, stage_variables: Mapping[str, str],
                  request_context: Mapping[str, Any]) -> dict[str, Any]:
    """The REQUEST event (DG ``api-gateway-lambda-authorizer-input.md``): the proxy event's
    request fields without the body, its maps the proxy event's, plus ``type`` and
    ``methodArn``. Empty maps are ``{}`` as in the DG's recorded example.
    ``request_context`` is the one the proxy event carries."""
    headers, multi_headers, query, multi_query, params, _ = maps
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": resource,
        "path": path,
        "httpMethod": http_method,
        "headers": headers or {},
        "multiValueHeaders": multi_headers or {},
        "queryStringParameters": query or {},
        "multiValueQueryStringParameters": multi_query or {},
        "pathParameters": params or {},
        "stageVariables": dict(stage_variables),
        "requestContext": dict(request_context),
    }


@dataclass(frozen=True, slots=True)
class AuthorizerResult:
    """A function's valid answer, as cached and as ``$context.authorizer.*`` reads it."""

    principal_id: str
    policy: Policy
    # $context.authorizer.KEY: values stringified (1 -> "1", True -> "true")
    context: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    usage_identifier_key: str | None = None
    # principalId and the context together, as $context.authorizer.* reads them; made once per
    # answer, so a cached one costs a request no dict
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def stringify(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def parse_output(output: Any) -> AuthorizerResult:
    """The function's answer (parsed JSON, or its bytes) as a result, or raise
    AUTHORIZER_CONFIGURATION_ERROR: no principalId, no valid policyDocument, a context value
    that is not a string, number or boolean."""
    if isinstance(output, bytes | str):
        try:
            output = orjson.loads(output)
        except orjson.JSONDecodeError:
            raise AuthorizerConfigurationError from None
    if not isinstance(output, dict):
        raise AuthorizerConfigurationError
    principal = output.get("principalId")
    if isinstance(principal, int | float) and not isinstance(principal, bool):
        principal = str(principal)
    if not isinstance(principal, str):
        raise AuthorizerConfigurationError
    try:
        policy = parse_policy(output.get("policyDocument")).compile()
    except PolicyError:
        raise AuthorizerConfigurationError from None
    context = output.get("context") or {}
    if not isinstance(context, dict) or not all(
            isinstance(v, str | int | float) for v in context.values()):
        raise AuthorizerConfigurationError
    key = output.get("usageIdentifierKey")
    if key is not None and not isinstance(key, str):
        raise AuthorizerConfigurationError
    text = {k: stringify(v) for k, v in context.items()}
    return AuthorizerResult(principal, policy, MappingProxyType(text), key,
                            MappingProxyType({**text, "principalId": principal}))


def function_error(error: Any) -> AuthError:
    """The answer to a failed call: 401 when the function's error message is exactly
    ``Unauthorized`` (its ``{"errorMessage": ...}`` payload, or the message itself), otherwise
    500 AUTHORIZER_CONFIGURATION_ERROR (also for timeouts and crashes: pass None)."""
    if isinstance(error, dict):
        error = error.get("errorMessage")
    if error == "Unauthorized":
        return Unauthorized()
    return AuthorizerConfigurationError()


class ResultCache:
    """Authorizer results by identity for ``authorizerResultTtlInSeconds``, per process (no
    store round trip), bounded: the oldest entry goes first. One per authorizer and stage."""

    __slots__ = ("_clock", "_entries", "_max", "_ttl")

    def __init__(self, ttl_seconds: int, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = float(ttl_seconds)
        self._max = max_entries
        self._clock = clock
        self._entries: dict[object, tuple[float, AuthorizerResult]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: object) -> AuthorizerResult | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: object, result: AuthorizerResult) -> None:
        if self._ttl <= 0:
            return
        entries = self._entries
        if key not in entries and len(entries) >= self._max:
            del entries[next(iter(entries))]  # dicts keep insertion order: the oldest
        entries[key] = (self._clock() + self._ttl, result)

    def clear(self) -> None:
        """Forget every result (AWS's ``DELETE .../stages/{stage}/cache/authorizers``, which
        Sluice does not serve: a new deployment makes new caches)."""
        self._entries.clear()
