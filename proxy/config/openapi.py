"""Reading an OpenAPI 3.0 or Swagger 2.0 definition with AWS's ``x-amazon-apigateway-*``
extensions into an ``ApiDefinition``.

Unknown fields of OpenAPI itself are ignored (as AWS's importer does); unknown keys inside the
``x-amazon-apigateway-*`` objects Sluice reads are errors, so a misspelt extension field is not
silently dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from proxy.config._check import (
    INVALID,
    Checker,
    Field,
    Invalid,
    Kind,
    PathT,
    boolean,
    describe,
    ignored,
    integer,
    key_label,
    list_of,
    map_of,
    one_of,
    record,
    show,
    string,
    then,
)
from proxy.config._refs import resolve_local
from proxy.config._source import read_document
from proxy.config.authorizers import (
    authorizer_schemes,
    read_method_security,
    read_security_schemes,
    resource_policy,
)
from proxy.config.model import (
    HTTP_METHODS,
    MAX_TIMEOUT_MS,
    MIN_TIMEOUT_MS,
    ApiDefinition,
    AuthorizerDef,
    GatewayResponseDef,
    Integration,
    IntegrationResponse,
    Method,
    MethodAuthorization,
    Resource,
)
from proxy.config.validators import ValidationReader
from proxy.errors import ConfigError
from proxy.vtl import TemplateError, compile_template

__all__ = ["GATEWAY_RESPONSE_TYPES", "load_definition", "resource_path_error"]

GATEWAY_RESPONSE_TYPES: tuple[str, ...] = (
    "ACCESS_DENIED",
    "API_CONFIGURATION_ERROR",
    "AUTHORIZER_CONFIGURATION_ERROR",
    "AUTHORIZER_FAILURE",
    "BAD_REQUEST_PARAMETERS",
    "BAD_REQUEST_BODY",
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "EXPIRED_TOKEN",
    "INTEGRATION_FAILURE",
    "INTEGRATION_TIMEOUT",
    "INVALID_API_KEY",
    "INVALID_SIGNATURE",
    "MISSING_AUTHENTICATION_TOKEN",
    "QUOTA_EXCEEDED",
    "REQUEST_TOO_LARGE",
    "RESOURCE_NOT_FOUND",
    "THROTTLED",
    "UNAUTHORIZED",
    "UNSUPPORTED_MEDIA_TYPE",
    "WAF_FILTERED",
)

_OPERATIONS: Mapping[str, str] = {
    **{m.lower(): m for m in HTTP_METHODS},
    "x-amazon-apigateway-any-method": "ANY",
}
_LOCATIONS: Mapping[str, str] = {"path": "path", "query": "querystring", "header": "header"}

_SEGMENT = re.compile(r"[A-Za-z0-9_\-.,:]+")
_PARAM_SEGMENT = re.compile(r"\{([A-Za-z0-9_\-.]+)(\+?)\}")
_NAME = r"[A-Za-z0-9._$-]+"


def resource_path_error(path: str) -> str | None:
    """What is wrong with a resource path such as ``/pets/{petId}``, or None."""
    if path == "/":
        return None
    if not path.startswith("/"):
        return "a resource path must start with /"
    segments = path[1:].split("/")
    names: set[str] = set()
    for i, seg in enumerate(segments):
        if not seg:
            return "a resource path may not contain an empty segment (// or a trailing /)"
        m = _PARAM_SEGMENT.fullmatch(seg)
        if m is None:
            if "{" in seg or "}" in seg:
                return f"segment {show(seg)}: a {{parameter}} must be a whole path segment"
            if not _SEGMENT.fullmatch(seg):
                return (
                    f"segment {show(seg)} may contain only A-Z a-z 0-9 _ - . , : "
                    "or be a whole {parameter}"
                )
            continue
        if m[2] and i != len(segments) - 1:
            return f"the greedy parameter {seg} must be the last segment"
        if m[1] in names:
            return f"the path parameter {{{m[1]}}} appears twice"
        names.add(m[1])
    return None


def _status(ck: Checker, path: PathT, value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"[1-5][0-9][0-9]", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    ck.fail(path, f"must be an HTTP status code between 100 and 599, got {show(value)}")


def _selection_pattern(ck: Checker, path: PathT, key: str) -> str:
    if key != "default":
        try:
            re.compile(key)
        except (re.error, RecursionError, OverflowError) as e:
            ck.fail(path, f"must be 'default' or a regular expression on the status code: {e}")
    return key


_LITERAL = r"'[^']*'"
_REQUEST_SOURCE = string(
    rf"method\.request\.(path|querystring|multivaluequerystring|header|multivalueheader)\.{_NAME}"
    rf"|method\.request\.body(\..+)?|stageVariables\.{_NAME}|context\.{_NAME}|{_LITERAL}",
    what="method.request.{path|querystring|header}.NAME, method.request.body[.JSONPath], "
    "stageVariables.NAME, context.NAME or 'literal'",
)
_INTEGRATION_TARGET = string(
    rf"integration\.request\.(path|querystring|multivaluequerystring|header|multivalueheader)"
    rf"\.{_NAME}",
    what="integration.request.{path|querystring|header}.NAME",
)
_RESPONSE_SOURCE = string(
    rf"integration\.response\.(header|multivalueheader)\.{_NAME}"
    rf"|integration\.response\.body(\..+)?|stageVariables\.{_NAME}|context\.{_NAME}|{_LITERAL}",
    what="integration.response.header.NAME, integration.response.body[.JSONPath], "
    "stageVariables.NAME, context.NAME or 'literal'",
)
_RESPONSE_TARGET = string(rf"method\.response\.header\.{_NAME}", what="method.response.header.NAME")
_GATEWAY_SOURCE = string(
    rf"method\.request\.(header|querystring|path)\.{_NAME}"
    rf"|stageVariables\.{_NAME}|context\.{_NAME}|{_LITERAL}",
    what="method.request.{header|querystring|path}.NAME, stageVariables.NAME, context.NAME "
    "or 'literal'",
)
_GATEWAY_TARGET = string(rf"gatewayresponse\.header\.{_NAME}", what="gatewayresponse.header.NAME")
_TEMPLATES = map_of(string())


def _mapping_template(ck: Checker, path: PathT, value: Any) -> str:
    """A VTL mapping template, compiled now: a syntax error is a config error with its line
    and column (``proxy.vtl``), not a 500 on the first request."""
    text: str = string()(ck, path, value)
    try:
        compile_template(text)
    except TemplateError as e:
        ck.fail(path, f"is not a valid mapping template: {e}")
    return text


_MAPPING_TEMPLATES = map_of(_mapping_template)
_CONTENT_HANDLING = one_of("CONVERT_TO_BINARY", "CONVERT_TO_TEXT", fold=True)

_INTEGRATION_RESPONSE = record(
    {
        "statusCode": Field(_status, required=True),
        "responseParameters": Field(map_of(_RESPONSE_SOURCE, key=_RESPONSE_TARGET)),
        "responseTemplates": Field(_MAPPING_TEMPLATES),
        "contentHandling": Field(_CONTENT_HANDLING),
    }
)


def _integration_post(ck: Checker, path: PathT, values: dict[str, Any]) -> dict[str, Any]:
    kind = values["type"]
    bad = False
    if kind != "MOCK":
        for name, attr in (("uri", "uri"), ("httpMethod", "http_method")):
            if attr not in values:
                ck.report((*path, name), f"is required for type {kind}")
                bad = True
    uri = values.get("uri")
    if kind in ("HTTP", "HTTP_PROXY") and uri and not re.match(r"https?://", uri, re.IGNORECASE):
        ck.report((*path, "uri"), f"must start with http:// or https:// for type {kind}")
        bad = True
    if bad:
        raise Invalid
    tls = values.pop("tls_config", None)
    if tls is not None:
        values["tls_insecure_skip_verification"] = tls.get("insecure_skip_verification", False)
    responses = values.pop("responses", None)
    if responses is not None:
        values["responses"] = tuple(
            IntegrationResponse(None if key == "default" else key, **entry)
            for key, entry in responses.items()
        )
    return values


_INTEGRATION = record(
    {
        "type": Field(one_of("HTTP_PROXY", "HTTP", "MOCK", "AWS_PROXY", "AWS", fold=True), True),
        "uri": Field(string(min_len=1)),
        "httpMethod": Field(one_of(*HTTP_METHODS, "ANY", fold=True)),
        "credentials": ignored(string()),
        "requestParameters": Field(map_of(_REQUEST_SOURCE, key=_INTEGRATION_TARGET)),
        "requestTemplates": Field(_MAPPING_TEMPLATES),
        "passthroughBehavior": Field(
            one_of("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER", fold=True)
        ),
        "contentHandling": Field(_CONTENT_HANDLING),
        "cacheNamespace": Field(string(min_len=1)),
        "cacheKeyParameters": Field(
            list_of(string(r"method\.request\..+", what="a string starting with method.request."))
        ),
        "timeoutInMillis": Field(integer(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS), to="timeout_ms"),
        "connectionType": ignored(one_of("INTERNET", "VPC_LINK", fold=True)),
        "connectionId": ignored(string()),
        "tlsConfig": Field(record({"insecureSkipVerification": Field(boolean)})),
        "responses": Field(map_of(_INTEGRATION_RESPONSE, key=_selection_pattern, number_keys=True)),
        "responseTransferMode": ignored(one_of("BUFFERED", "STREAM", fold=True)),
    },
    Integration,
    post=_integration_post,
)

_GATEWAY_RESPONSE = record(
    {
        "statusCode": Field(_status),
        "responseParameters": Field(map_of(_GATEWAY_SOURCE, key=_GATEWAY_TARGET)),
        "responseTemplates": Field(_TEMPLATES),
    }
)


def _gateway_responses(
    ck: Checker, path: PathT, entries: Mapping[str, dict[str, Any]]
) -> Mapping[str, GatewayResponseDef]:
    return MappingProxyType({k: GatewayResponseDef(k, **v) for k, v in entries.items()})


_PARAMETER = record(
    {
        "name": Field(string(min_len=1), required=True),
        "in": Field(one_of("path", "query", "header", "cookie", "body", "formData"), True),
        "required": Field(boolean),
    },
    strict=False,
)


class _Reader:
    """The parts of a definition that need the whole document: ``$ref`` and security schemes."""

    __slots__ = ("api_key_schemes", "authorizers", "broken_schemes", "doc", "scheme_names",
                 "schemes_at", "schemes_path", "validation")

    def __init__(self, ck: Checker, doc: dict[Any, Any], swagger: bool) -> None:
        """Reads the security schemes and the request validators and models (spec 9), which
        every operation refers to, reporting their problems to ``ck``."""
        self.doc = doc
        self.schemes_path: tuple[str, ...] = (
            ("securityDefinitions",) if swagger else ("components", "securitySchemes"))
        self.schemes_at = ".".join(self.schemes_path)
        holder = doc if swagger else doc.get("components")
        found = (
            holder.get("securityDefinitions" if swagger else "securitySchemes")
            if isinstance(holder, dict)
            else None
        )
        schemes: Mapping[Any, Any] = found if isinstance(found, dict) else {}
        self.scheme_names = frozenset(schemes)
        self.api_key_schemes = frozenset(name for name, s in schemes.items() if _is_api_key(s))
        self.authorizers: Mapping[str, AuthorizerDef] = read_security_schemes(
            ck, self.schemes_path, schemes)
        # authorizer schemes reported bad just now: an operation naming one adds no message
        self.broken_schemes = frozenset(authorizer_schemes(schemes)).difference(self.authorizers)
        self.validation = ValidationReader(ck, doc, swagger)

    def root(self) -> Kind:
        return record(
            {
                "info": Field(
                    then(
                        record({"title": Field(string(min_len=1), True)}, strict=False),
                        lambda ck, path, v: v["title"],
                    ),
                    required=True,
                    to="title",
                ),
                "paths": Field(self.paths, required=True, to="resources"),
                "x-amazon-apigateway-gateway-responses": Field(
                    then(
                        map_of(_GATEWAY_RESPONSE, key=one_of(*GATEWAY_RESPONSE_TYPES)),
                        _gateway_responses,
                    ),
                    to="gateway_responses",
                ),
                "x-amazon-apigateway-api-key-source": Field(
                    one_of("HEADER", "AUTHORIZER", fold=True), to="api_key_source"
                ),
                "x-amazon-apigateway-binary-media-types": Field(
                    list_of(string(r"[^/\s]+/[^/\s]+", what="a media type such as image/png")),
                    to="binary_media_types",
                ),
                "x-amazon-apigateway-minimum-compression-size": Field(
                    integer(0, 10_485_760), to="minimum_compression_size"
                ),
                "x-amazon-apigateway-policy": Field(resource_policy, to="policy"),
            },
            ApiDefinition,
            strict=False,
        )

    def paths(self, ck: Checker, path: PathT, value: Any) -> tuple[Resource, ...]:
        if not isinstance(value, dict):
            ck.fail(path, f"must be a mapping of resource paths, got {describe(value)}")
        before = len(ck.problems)
        resources: list[Resource] = []
        # AWS allows one variable child per resource: /pets/{id} and /pets/{petId} conflict.
        variable_child: dict[str, str] = {}
        for key, item in value.items():
            where = (*path, key_label(key))
            if not isinstance(key, str):
                ck.report(where, f"keys must be strings, got {describe(key)}")
                continue
            problem = resource_path_error(key)
            if problem is not None:
                ck.report(where, problem)
                continue
            segments = key.split("/")[1:]
            for i, seg in enumerate(segments):
                if seg.startswith("{"):
                    parent = "/" + "/".join(segments[:i])
                    other = variable_child.setdefault(parent, seg)
                    if other != seg:
                        ck.report(
                            where,
                            f"{seg} conflicts with {other} under {parent}: "
                            "a resource may have only one variable child",
                        )
                        break
            methods = ck.attempt(self.path_item, where, item)
            if methods is not INVALID:
                resources.append(Resource(key, methods))
        if len(ck.problems) > before:
            raise Invalid
        return tuple(resources)

    def path_item(self, ck: Checker, path: PathT, item: Any) -> Mapping[str, Method]:
        # a path item may be a local $ref, as AWS's importer resolves it; a loop or a reference
        # to another file is an error here rather than a resource silently without methods
        item = self.resolve(ck, path, item)
        if not isinstance(item, dict):
            ck.fail(path, f"must be a mapping (a path item), got {describe(item)}")
        before = len(ck.problems)
        shared: tuple[tuple[str, str, bool], ...] = ()
        if "parameters" in item:
            got = ck.attempt(self.parameters, (*path, "parameters"), item["parameters"])
            shared = () if got is INVALID else got
        methods: dict[str, Method] = {}
        for key, method in _OPERATIONS.items():
            if key in item:
                m = ck.attempt(self.operation(method, shared), (*path, key), item[key])
                if m is not INVALID:
                    methods[method] = replace(m, validation=self.validation.method(
                        ck, (*path, key), item[key], item))
        if len(ck.problems) > before:
            raise Invalid
        return MappingProxyType(methods)

    def operation(self, method: str, shared: tuple[tuple[str, str, bool], ...]) -> Kind:
        def post(ck: Checker, path: PathT, values: dict[str, Any]) -> dict[str, Any]:
            declared = {(loc, name): req for loc, name, req in shared}
            declared.update({(loc, name): req for loc, name, req in values.pop("parameters", ())})
            params: dict[str, bool] = {}
            seen: dict[str, str] = {}
            for (loc, name), req in declared.items():
                if loc not in _LOCATIONS:
                    continue
                if name in seen:
                    ck.report(
                        (*path, "parameters"),
                        f"parameter {show(name)} is declared in both {seen[name]} and {loc}; "
                        "names must be unique across path, query and header",
                    )
                seen[name] = loc
                params[f"method.request.{_LOCATIONS[loc]}.{name}"] = req or loc == "path"
            integration: Integration = values["integration"]
            _check_references(ck, path, integration, params)
            values["request_parameters"] = MappingProxyType(params)
            return values

        return record(
            {
                "operationId": Field(string(), to="operation_id"),
                "parameters": Field(self.parameters),
                "security": Field(self.security, to="authorization"),
                "x-amazon-apigateway-integration": Field(_INTEGRATION, True, to="integration"),
            },
            lambda **kw: Method(method, **kw),
            strict=False,
            post=post,
        )

    def parameters(self, ck: Checker, path: PathT, value: Any) -> tuple[tuple[str, str, bool], ...]:
        result: tuple[tuple[str, str, bool], ...] = list_of(self.parameter)(ck, path, value)
        return result

    def parameter(self, ck: Checker, path: PathT, value: Any) -> tuple[str, str, bool]:
        value = self.resolve(ck, path, value)
        p = _PARAMETER(ck, path, value)
        if p["in"] in _LOCATIONS and not re.fullmatch(_NAME, p["name"]):
            ck.fail((*path, "name"), f"must match {_NAME} (AWS parameter names)")
        return p["in"], p["name"], p.get("required", False)

    def resolve(self, ck: Checker, path: PathT, value: Any) -> Any:
        return resolve_local(ck, path, self.doc, value)

    def security(self, ck: Checker, path: PathT, value: Any) -> MethodAuthorization:
        """The method's authorization from its ``security``: the API key scheme sets
        ``apiKeyRequired``, an authorizer scheme (``read_security_schemes``) its authorizer."""
        return read_method_security(
            ck, path, value, authorizers=self.authorizers, api_key_schemes=self.api_key_schemes,
            schemes=self.scheme_names, schemes_at=self.schemes_at, broken=self.broken_schemes)


def _is_api_key(scheme: Any) -> bool:
    return (
        isinstance(scheme, dict)
        and scheme.get("type") == "apiKey"
        and scheme.get("in") == "header"
        and isinstance(scheme.get("name"), str)
        and scheme["name"].lower() == "x-api-key"
        and "x-amazon-apigateway-authorizer" not in scheme
    )


def _check_references(
    ck: Checker, path: PathT, integration: Integration, params: Mapping[str, bool]
) -> None:
    """AWS rejects an integration that maps or caches on an undeclared method parameter."""
    where = (*path, "x-amazon-apigateway-integration")
    declared = ", ".join(params) or "none"
    for target, source in integration.request_parameters.items():
        m = re.fullmatch(r"method\.request\.(multivalue)?(path|querystring|header)\.(.+)", source)
        if m and f"method.request.{m[2]}.{m[3]}" not in params:
            ck.report(
                (*where, "requestParameters", target),
                f"{source} is not a declared parameter of this method (declared: {declared})",
            )
    for i, name in enumerate(integration.cache_key_parameters):
        if name not in params:
            ck.report(
                (*where, "cacheKeyParameters", i),
                f"must name a declared parameter of this method (declared: {declared})",
            )


def _version(ck: Checker, doc: dict[Any, Any]) -> bool:
    """True for Swagger 2.0, False for OpenAPI 3.0; reports other versions."""
    if "openapi" in doc:
        v = doc["openapi"]
        if not (v == 3.0 or (isinstance(v, str) and re.fullmatch(r"3\.0(\.\d+)?", v))):
            ck.report(("openapi",), f"must be 3.0.x (OpenAPI 3.0), got {show(v)}")
        return False
    if "swagger" in doc:
        v = doc["swagger"]
        if v not in ("2.0", 2.0):
            ck.report(("swagger",), f'must be "2.0", got {show(v)}')
        return True
    ck.fail((), 'is neither OpenAPI 3.0 (openapi: 3.0.x) nor Swagger 2.0 (swagger: "2.0")')


def read_definition(ck: Checker, doc: Any) -> ApiDefinition:
    """The definition in an already-parsed document; problems go to ``ck``."""
    if not isinstance(doc, dict):
        ck.fail((), f"must be a mapping (an OpenAPI document), got {describe(doc)}")
    swagger = _version(ck, doc)
    reader = _Reader(ck, doc, swagger)
    definition: ApiDefinition = reader.root()(ck, (), doc)
    if ck.problems:
        raise Invalid
    return replace(definition, authorizers=reader.authorizers,
                   security_schemes_at=reader.schemes_path)


def load_definition(path: str | os.PathLike[str], *, file_label: str) -> ApiDefinition:
    """Read an OpenAPI 3.0 or Swagger 2.0 file (YAML or JSON).

    Raises ``ConfigError`` listing every problem, each naming ``file_label``.
    """
    doc = read_document(path, file_label)
    ck = Checker(file_label)
    try:
        return read_definition(ck, doc)
    except Invalid:
        raise ConfigError(ck.problems) from None
