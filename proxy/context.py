"""Per-request state, and the one table of ``$context`` variables every consumer reads.

``RequestContext`` is made once per request and carries what the pipeline's phases share: the
request and its parts (the path after the stage, path parameters, the body), what a phase
decided (the API key and plan, the matched route), and what access logs, metrics and gateway
responses report. Slotted: a dict-backed object costs ~40% more to create. Attribute names follow
the ``$context`` variables where there is one (``$context.httpMethod`` is ``http_method``);
``None`` means "not set".

``VARIABLES`` declares each ``$context`` variable once: the attribute it is read from and its
kind, which says how it reads and whether it can be unset. Access logs compile their formats from
it (``proxy.accesslog``), gateway responses and parameter mappings read values through
:func:`value`, and mapping templates read ``$context`` through :class:`ContextView`, a lazy
mapping over the same table nested by the dots (``$context.identity.sourceIp``), with values
typed as AWS's Velocity sees them (``requestTimeEpoch`` a number).
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

if TYPE_CHECKING:
    from aiohttp.web import BaseRequest

    from proxy.auth import Decision, IamIdentity, RequestFacts
    from proxy.body import RequestBody
    from ratelimit import KeyRecord, PlanRecord


class RouteInfo(Protocol):
    """What the request state needs of its matched route (``proxy.route.MethodRoute``)."""

    @property
    def resource_path(self) -> str: ...

    @property
    def metric_resource(self) -> str: ...

    @property
    def metric_method(self) -> str: ...


class AuthState:
    """What the resource policy and authorizer phases found, on ``ctx.auth`` (None on a route
    that has neither, so such a route pays nothing for them). ``$context.authorizer.*`` and
    ``$context.identity.*`` read it through ``VARIABLES``."""

    __slots__ = ("caller", "claims", "error", "facts", "integration_latency_ms", "latency_ms",
                 "method_arn", "policy", "request_id", "status", "usage_identifier_key",
                 "values")

    def __init__(self, method_arn: str) -> None:
        self.method_arn = method_arn  # arn:aws:execute-api:{region}:{account}:{api}/{stage}/...
        # the resource policy's decision before the authorizer (None: the stage has none)
        self.policy: Decision | None = None
        # what the resource policy read of the request in its first phase, when it reads any;
        # its final phase asks again with the caller set on them
        self.facts: RequestFacts | None = None
        self.caller: IamIdentity | None = None  # a verified SigV4 signer (AWS_IAM)
        # $context.authorizer.KEY: a Lambda authorizer's principalId and context, stringified
        self.values: Mapping[str, str] | None = None
        self.claims: Mapping[str, str] | None = None  # $context.authorizer.claims.* (Cognito)
        self.usage_identifier_key: str | None = None  # the API key when its source is AUTHORIZER
        self.latency_ms: float | None = None  # the whole authorizer step, cache hits included
        self.integration_latency_ms: float | None = None  # the function call, when one was made
        self.status: int | None = None  # 200, or the status the authorizer answered with
        self.error: str | None = None
        self.request_id: str | None = None  # the authorizer function's invocation id


class RequestContext:
    __slots__ = (
        "account_id",
        "api_id",
        "api_key",
        "api_key_id",
        "auth",
        "body",
        "cache_status",
        "domain_name",
        "error_message",
        "error_response_type",
        "extended_request_id",
        "http_method",
        "integration_error",
        "integration_latency_ms",
        "integration_status",
        "key",
        "path",
        "path_params",
        "plan",
        "protocol",
        "query_string",
        "request",
        "request_id",
        "request_time_epoch_ms",
        "resource_id",
        "resource_path",
        "response_latency_ms",
        "response_length",
        "rest_path",
        "route",
        "source_ip",
        "stage",
        "start",
        "status",
        "throttle_level",
        "trace_id",
        "user_agent",
        "validation_error",
    )

    def __init__(self, request_id: str, extended_request_id: str, start: float,
                 request_time_epoch_ms: int, trace_id: str = "") -> None:
        self.request_id = request_id
        self.extended_request_id = extended_request_id
        self.trace_id = trace_id  # X-Amzn-Trace-Id
        self.start = start  # time.perf_counter() at receipt
        self.request_time_epoch_ms = request_time_epoch_ms
        self.api_id: str | None = None
        self.account_id: str | None = None  # the API owner's (config aws.accountId)
        self.stage: str | None = None
        self.http_method: str | None = None
        self.path: str | None = None  # "/{stage}/pets/1": includes the stage, as AWS logs it
        self.query_string: str = ""  # raw, without "?"
        self.protocol = "HTTP/1.1"
        self.domain_name: str | None = None
        self.source_ip: str | None = None
        self.user_agent: str | None = None
        self.resource_path: str | None = None  # the template: "/pets/{petId}"
        self.resource_id: str | None = None
        # the request as the pipeline's phases read it
        self.request: BaseRequest | None = None
        self.rest_path = "/"  # the raw path after the stage, dot segments resolved
        self.path_params: Mapping[str, str] = _NO_PARAMS
        self.body: RequestBody | None = None
        # the deployment's route once matched: metrics label the request by it
        self.route: RouteInfo | None = None
        # what the API key phase found
        self.key: KeyRecord | None = None
        self.plan: PlanRecord | None = None
        self.api_key: str | None = None  # never logged as such; access logs may name it
        self.api_key_id: str | None = None
        self.auth: AuthState | None = None  # what the authorizer phases found
        self.status = 0
        self.response_length: int | None = None
        self.response_latency_ms: float | None = None
        self.integration_latency_ms: float | None = None  # None: no integration was called
        self.integration_status: int | None = None
        self.integration_error: str | None = None
        self.error_message: str | None = None
        self.error_response_type: str | None = None
        self.validation_error: str | None = None  # $context.error.validationErrorString
        self.cache_status: str | None = None  # None: caching off; "hit" | "miss"
        # account | concurrency | stage | usage_plan | quota, when the request was refused so
        self.throttle_level: str | None = None


_NO_PARAMS: Mapping[str, str] = {}


# --- the $context variables ------------------------------------------------------------------

Kind = Literal["id", "text", "int", "status", "millis", "elapsed", "quoted", "clf", "prefix",
               "unset"]
"""How a variable reads from its attribute:

- ``id``: text the gateway makes (ids, the client address, the protocol): never needs escaping
- ``text``: text a client or the config shapes: escaped where it lands, unset when empty
- ``int``: a number; ``status``: an HTTP status, 0 while unset; ``millis``: a float of
  milliseconds, written whole
- ``elapsed``: milliseconds, or the time since receipt while unset (responseLatency)
- ``quoted``: the JSON-quoted form of a text (error.messageString)
- ``clf``: an epoch-milliseconds stamp as CLF time (``04/Mar/2020:19:15:17 +0000``)
- ``prefix``: the first DNS label of a text (domainPrefix)
- ``unset``: known to AWS and never set by this gateway
"""


@dataclass(frozen=True, slots=True)
class Variable:
    name: str  # after "$context."
    attr: str | None  # the RequestContext attribute it reads
    kind: Kind
    # then these attributes of that object in turn (None on the way: unset)
    path: tuple[str, ...] = ()
    key: str | None = None  # then this entry of the mapping reached


def _v(name: str, attr: str | None, kind: Kind, path: tuple[str, ...] = (),
       key: str | None = None) -> tuple[str, Variable]:
    return name, Variable(name, attr, kind, path, key)


VARIABLES: Mapping[str, Variable] = dict([
    _v("requestId", "request_id", "id"),
    _v("extendedRequestId", "extended_request_id", "id"),
    _v("identity.sourceIp", "source_ip", "id"),
    _v("protocol", "protocol", "id"),
    _v("status", "status", "status"),
    _v("responseLength", "response_length", "int"),
    _v("requestTimeEpoch", "request_time_epoch_ms", "int"),
    _v("requestTime", "request_time_epoch_ms", "clf"),
    _v("apiId", "api_id", "text"),
    _v("stage", "stage", "text"),
    _v("domainName", "domain_name", "text"),
    _v("domainPrefix", "domain_name", "prefix"),
    _v("httpMethod", "http_method", "text"),
    _v("path", "path", "text"),
    _v("resourcePath", "resource_path", "text"),
    _v("resourceId", "resource_id", "text"),
    _v("identity.userAgent", "user_agent", "text"),
    _v("identity.apiKey", "api_key", "text"),
    _v("identity.apiKeyId", "api_key_id", "text"),
    _v("integration.error", "integration_error", "text"),
    _v("integrationErrorMessage", "integration_error", "text"),
    _v("error.message", "error_message", "text"),
    _v("error.messageString", "error_message", "quoted"),
    _v("error.responseType", "error_response_type", "text"),
    _v("error.validationErrorString", "validation_error", "text"),
    _v("responseLatency", "response_latency_ms", "elapsed"),
    _v("integrationLatency", "integration_latency_ms", "millis"),
    _v("integration.latency", "integration_latency_ms", "millis"),
    _v("integrationStatus", "integration_status", "int"),
    _v("integration.status", "integration_status", "int"),
    _v("integration.integrationStatus", "integration_status", "int"),
    _v("accountId", "account_id", "id"),
    # the SigV4 signer of an AWS_IAM method (iam.credentials)
    _v("identity.accountId", "auth", "text", ("caller", "account_id")),
    _v("identity.caller", "auth", "text", ("caller", "user_id")),
    _v("identity.user", "auth", "text", ("caller", "user_id")),
    _v("identity.userArn", "auth", "text", ("caller", "user_arn")),
    _v("identity.accessKey", "auth", "text", ("caller", "access_key")),
    # the authorizer step (access logs); authorizer.KEY and authorizer.claims.NAME: lookup()
    _v("authorizer.latency", "auth", "millis", ("latency_ms",)),
    _v("authorizer.integrationLatency", "auth", "millis", ("integration_latency_ms",)),
    _v("authorizer.status", "auth", "int", ("status",)),
    _v("authorizer.error", "auth", "text", ("error",)),
    _v("authorizer.requestId", "auth", "text", ("request_id",)),
    # Known to AWS, never set by this gateway (no Cognito identity pools, WAF or X-Ray, no
    # canary deployments).
    *(_v(name, None, "unset") for name in (
        "identity.cognitoIdentityId", "identity.cognitoIdentityPoolId",
        "identity.principalOrgId", "awsEndpointRequestId", "deploymentId", "isCanaryRequest",
        "integration.requestId", "xrayTraceId", "wafResponseCode", "webaclArn",
        "authorizer.claims")),
])


@functools.lru_cache(maxsize=1024)
def lookup(name: str) -> Variable | None:
    """The variable ``$context.{name}``: one of ``VARIABLES``, or an authorizer's own entry,
    ``authorizer.claims.NAME`` (a Cognito claim) or ``authorizer.KEY`` (a Lambda authorizer's
    ``principalId`` or context value). None for a name AWS does not know."""
    variable = VARIABLES.get(name)
    if variable is not None:
        return variable
    if name.startswith("authorizer.claims.") and len(name) > 18:
        return Variable(name, "auth", "text", ("claims",), name[18:])
    if name.startswith("authorizer.") and len(name) > 11:
        return Variable(name, "auth", "text", ("values",), name[11:])
    return None


def read(ctx: RequestContext, variable: Variable) -> Any:
    """The raw value a variable reads (None when unset anywhere on its way)."""
    raw: Any = getattr(ctx, variable.attr) if variable.attr is not None else None
    for name in variable.path:
        if raw is None:
            return None
        raw = getattr(raw, name)
    if variable.key is not None and raw is not None:
        return raw.get(variable.key)
    return raw

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ClfTime:
    """CLF time of an epoch-ms stamp, cached for the last second: most requests share one."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def __call__(self, epoch_ms: int) -> str:
        second = epoch_ms // 1000
        if second != self.second:
            t = time.gmtime(second)  # English month names whatever the locale
            self.text = (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:"
                         f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")
            self.second = second
        return self.text


_clf = ClfTime()


def elapsed_ms(ctx: RequestContext) -> float:
    """responseLatency: stamped at the end of the pipeline, else the time since receipt."""
    ms = ctx.response_latency_ms
    return (time.perf_counter() - ctx.start) * 1000.0 if ms is None else ms


def value(ctx: RequestContext, name: str) -> str | None:
    """``$context.{name}`` as text, None when unset or unknown: what gateway responses,
    parameter mappings and templates substitute."""
    return getter(name)(ctx)


@functools.lru_cache(maxsize=1024)
def getter(name: str) -> Callable[[RequestContext], str | None]:
    """``value`` for one name, compiled once: a plain attribute read for the text variables
    (most of them), else the general reading. Building a Lambda event reads 16 of them: 0.6 us
    this way against 2.9 us through ``value``'s lookup and dispatch (timeit)."""
    variable = lookup(name)
    if variable is None or variable.attr is None:
        return _unset
    if variable.kind in ("id", "text") and not variable.path and variable.key is None:
        read_attr = operator.attrgetter(variable.attr)
        return lambda ctx: read_attr(ctx) or None  # text attributes hold str or None
    return functools.partial(_value, variable=variable)


def _unset(ctx: RequestContext) -> None:
    return None


def _value(ctx: RequestContext, variable: Variable) -> str | None:
    raw = read(ctx, variable)
    kind = variable.kind
    if kind == "elapsed":
        return str(round(elapsed_ms(ctx)))
    if kind == "quoted":  # JSON: an unset message is null (AUTHORIZER_CONFIGURATION_ERROR's body)
        return orjson.dumps(raw).decode()
    if raw is None or raw == "":
        return None
    if kind in ("id", "text"):
        return str(raw)
    if kind in ("int", "status"):
        return str(raw) if raw or kind == "int" else None
    if kind == "millis":
        return str(round(raw))
    if kind == "clf":
        return _clf(raw)
    if kind == "prefix":
        return str(raw).split(".", 1)[0]
    return None


def typed(ctx: RequestContext, variable: Variable) -> Any:
    """``$context.{name}`` as a mapping template sees it: numbers as numbers, text as text,
    None when unset."""
    attr = variable.attr
    if attr is None:
        return None
    kind = variable.kind
    # most reads ($context.requestId, .stage) are one attribute; identity.* and authorizer.*
    # go on into the authorizer's state
    raw = getattr(ctx, attr) if not variable.path and variable.key is None \
        else read(ctx, variable)
    if kind == "id" or kind == "text":
        return None if raw is None or raw == "" else raw if type(raw) is str else str(raw)
    if kind in ("int", "status"):
        return None if raw is None or (kind == "status" and not raw) else raw
    if kind == "millis":
        return None if raw is None else round(raw)
    if kind == "elapsed":
        return round(elapsed_ms(ctx))
    return value(ctx, variable.name)


# The table as a tree: "identity.sourceIp" under "identity"; leaves are Variables.
_Tree = dict[str, "Variable | _Tree"]


def _tree(variables: Mapping[str, Variable]) -> _Tree:
    root: _Tree = {}
    for name, variable in variables.items():
        *branches, leaf = name.split(".")
        node = root
        for part in branches:
            child = node.setdefault(part, {})
            assert isinstance(child, dict), f"{name}: {part} is both a variable and a branch"
            node = child
        node[leaf] = variable
    return root


_TREE = _tree(VARIABLES)
_AUTHORIZER = _TREE["authorizer"]


def _authorizer_entry(ctx: RequestContext, name: str) -> Any:
    """``$context.authorizer.claims`` (a Cognito user pool's claims, a map) and
    ``$context.authorizer.KEY`` (a Lambda authorizer's ``principalId`` and context values):
    named by the authorizer's answer, so not in ``VARIABLES``. None without them."""
    auth = ctx.auth
    if auth is None:
        return None
    if name == "claims":
        return auth.claims
    values = auth.values
    return values.get(name) if values is not None else None


class ContextView(Mapping[str, Any]):
    """``$context`` for mapping templates: a read-only mapping over one request's state, made
    from ``VARIABLES`` and read on demand, so a template pays only for the variables it names
    (about 0.3 us a variable). A dotted name's first part reads as a nested view
    (``view["identity"]["sourceIp"]``). ``requestOverride`` and ``responseOverride`` are the
    template engine's own (``proxy.vtl``)."""

    __slots__ = ("_ctx", "_node")

    def __init__(self, ctx: RequestContext, node: _Tree | None = None) -> None:
        self._ctx = ctx
        self._node = _TREE if node is None else node

    def __getitem__(self, name: str) -> Any:
        node = self._node
        if node is _AUTHORIZER and (name == "claims" or name not in node):
            return _authorizer_entry(self._ctx, name)
        entry = node[name]
        if type(entry) is Variable:
            return typed(self._ctx, entry)
        return ContextView(self._ctx, entry)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)
