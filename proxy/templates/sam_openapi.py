"""The OpenAPI document of an ``AWS::Serverless::Api``, edited the way the SAM transform edits
it (``samtranslator/swagger/swagger.py``, ``open_api/base_editor.py``): Lambda proxy
integrations for function events, authorizers and API keys in ``security``, CORS preflight
``OPTIONS`` methods, gateway responses, resource policies, request parameters and models.

The shapes are SAM's own, so a generated document can be compared with the SAM repository's
``tests/translator/output`` files. Functions raise ``SamError`` with SAM's message; the caller
knows which template property it was working on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ALL_HTTP_METHODS",
    "ANY_METHOD",
    "INTEGRATION",
    "SamError",
    "add_apikey_security_definition",
    "add_auth_to_method",
    "add_cors",
    "add_custom_statements",
    "add_lambda_integration",
    "add_path",
    "add_request_model",
    "add_request_parameters",
    "add_request_validator",
    "add_resource_policy",
    "authorizer_security_scheme",
    "has_integration",
    "is_openapi3",
    "is_openapi3_version",
    "iter_methods",
    "normalize_method",
    "openapi3_postprocess",
    "security_schemes",
    "set_default_apikey_required",
    "set_default_authorizer",
    "set_timeout",
    "skeleton",
]

INTEGRATION = "x-amazon-apigateway-integration"
ANY_METHOD = "x-amazon-apigateway-any-method"
ALL_HTTP_METHODS = ("OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
_NOT_METHODS = ("summary", "description", "parameters")
_OPENAPI3 = re.compile(r"\A3(\.\d)(\.\d)?$")


class SamError(Exception):
    """What the SAM transform would reject, in its words."""


def skeleton() -> dict[str, Any]:
    """SAM's empty definition for an API it manages (``SwaggerEditor.gen_skeleton``)."""
    return {"swagger": "2.0", "info": {"version": "1.0", "title": {"Ref": "AWS::StackName"}},
            "paths": {}}


def is_openapi3(doc: dict[str, Any]) -> bool:
    return "swagger" not in doc and is_openapi3_version(doc.get("openapi", ""))


def is_openapi3_version(version: Any) -> bool:
    """Whether SAM takes ``version`` (an ``openapi`` field, ``OpenApiVersion``) as 3.x."""
    return _OPENAPI3.match(str(version)) is not None


def normalize_method(method: str) -> str:
    method = method.lower()
    return ANY_METHOD if method == "any" else method


def _paths(doc: dict[str, Any]) -> dict[str, Any]:
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        raise SamError("Value of paths must be a dictionary according to Swagger spec.")
    return paths


def _path_item(doc: dict[str, Any], path: str) -> dict[str, Any]:
    item = _paths(doc).get(path)
    if not isinstance(item, dict):
        raise SamError(f"Value of '{path}' path must be a dictionary according to Swagger spec.")
    return item


def iter_methods(doc: dict[str, Any], path: str, *, with_integration: bool = True
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(method, definition)`` of a path (SAM's ``iter_on_all_methods_for_path``)."""
    for name, method in list(_path_item(doc, path).items()):
        if name in _NOT_METHODS:
            continue
        if not isinstance(method, dict):
            raise SamError(f"Value of '{name}' method for path '{path}' must be a dictionary "
                           "according to Swagger spec.")
        if with_integration and not method.get(INTEGRATION):
            continue
        yield normalize_method(name), method


def has_integration(doc: dict[str, Any], path: str, method: str) -> bool:
    item = _paths(doc).get(path)
    if not isinstance(item, dict):
        return False
    definition = item.get(normalize_method(method))
    return isinstance(definition, dict) and bool(definition.get(INTEGRATION))


def add_path(doc: dict[str, Any], path: str, method: str) -> None:
    paths = _paths(doc)
    item = paths.setdefault(path, {})
    if not isinstance(item, dict):
        raise SamError(f"Value of '{path}' path must be a dictionary according to Swagger spec.")
    item.setdefault(normalize_method(method), {})


def _method(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    definition = _path_item(doc, path).get(normalize_method(method))
    if not isinstance(definition, dict):
        raise SamError(f"Value of '{method}' method for path '{path}' must be a dictionary "
                       "according to Swagger spec.")
    return definition


def set_timeout(doc: dict[str, Any], path: str, method: str, timeout: Any) -> None:
    """An event's ``TimeoutInMillis`` (``add_timeout_to_method``)."""
    _method(doc, path, method)[INTEGRATION]["timeoutInMillis"] = timeout


def add_lambda_integration(doc: dict[str, Any], path: str, method: str, uri: Any,
                           method_auth: dict[str, Any], api_auth: dict[str, Any],
                           stream: bool = False) -> None:
    """An ``aws_proxy`` integration (``add_lambda_integration``); the caller has checked that
    the method has none yet."""
    add_path(doc, path, method)
    definition = _method(doc, path, method)
    integration: dict[str, Any] = {"type": "aws_proxy", "httpMethod": "POST", "uri": uri}
    if stream:
        integration["responseTransferMode"] = "STREAM"
    if method_auth.get("Authorizer") == "AWS_IAM" or (
        api_auth.get("DefaultAuthorizer") == "AWS_IAM" and not method_auth
    ):
        roles = []
        for auth in (method_auth, api_auth):
            role = auth.get("InvokeRole")
            roles.append("NONE" if not role and "InvokeRole" in auth else role)
        role = roles[0] or roles[1]
        credentials = role if role and role != "CALLER_CREDENTIALS" else "arn:aws:iam::*:user/*"
        if credentials != "NONE":
            integration["credentials"] = credentials
    definition[INTEGRATION] = integration
    definition.setdefault("responses", {})


# --- auth ----------------------------------------------------------------------------------


def _security(definition: dict[str, Any], path: str, method: str) -> list[Any]:
    security = definition.get("security", [])
    if not isinstance(security, list):
        raise SamError(f"Type of security for path {path} method {method} must be a list")
    for entry in security:
        if not isinstance(entry, dict):
            raise SamError(f"{entry} in Security for path {path} method {method} is not a valid "
                           "dictionary.")
    return security


def add_awsiam_security_definition(doc: dict[str, Any]) -> None:
    security_schemes(doc).setdefault("AWS_IAM", {
        "x-amazon-apigateway-authtype": "awsSigv4", "type": "apiKey", "name": "Authorization",
        "in": "header",
    })


def add_apikey_security_definition(doc: dict[str, Any]) -> None:
    security_schemes(doc).setdefault("api_key", {"type": "apiKey", "name": "x-api-key",
                                                  "in": "header"})


def security_schemes(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's ``securityDefinitions`` (made when missing)."""
    schemes = doc.get("securityDefinitions")
    if schemes is None:
        schemes = doc["securityDefinitions"] = {}
    if not isinstance(schemes, dict):
        raise SamError("securityDefinitions must be a dictionary.")
    return schemes


def add_auth_to_method(doc: dict[str, Any], path: str, method: str, auth: dict[str, Any],
                       api_authorizers: dict[str, Any] | None) -> None:
    """An event's ``Auth``: its authorizer and ``ApiKeyRequired`` (``add_auth_to_method``)."""
    name = auth.get("Authorizer")
    definition = _method(doc, path, method)
    if name:
        entry: dict[str, Any] = {name: []}
        security = [*_security(definition, path, method), entry]
        if name != "NONE" and api_authorizers:
            authorizer = api_authorizers.get(name, {})
            if not isinstance(authorizer, dict):
                raise SamError(f"Type of authorizer '{name}' must be a dictionary")
            scopes = authorizer.get("AuthorizationScopes")
            if auth.get("AuthorizationScopes") is not None:
                scopes = auth["AuthorizationScopes"]
            if api_authorizers.get(name) is not None and scopes is not None:
                entry[name] = scopes
        definition["security"] = security
        if "AWS_IAM" in security[0]:
            add_awsiam_security_definition(doc)
    required = auth.get("ApiKeyRequired")
    if required is not None:
        if required:
            entry = {"api_key": []}
            add_apikey_security_definition(doc)
        else:
            entry = {"api_key_false": []}
        definition["security"] = [*_security(definition, path, method), entry]


def authorizer_security_scheme(authorizer: dict[str, Any], uri: Any) -> dict[str, Any]:
    """The security scheme of one ``Auth.Authorizers`` entry (``ApiGatewayAuthorizer
    .generate_swagger``); ``uri`` is its ``authorizerUri`` for a Lambda authorizer."""
    identity = authorizer.get("Identity") or {}
    cognito = bool(authorizer.get("UserPoolArn"))
    payload = authorizer.get("FunctionPayloadType") or "TOKEN"
    if not cognito and payload == "REQUEST":
        header = "Unused"
    else:
        header = identity.get("Header") or "Authorization"
    scheme: dict[str, Any] = {
        "type": "apiKey", "name": header, "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools" if cognito else "custom",
    }
    extension: dict[str, Any]
    if cognito:
        pools = authorizer["UserPoolArn"]
        extension = {"type": "cognito_user_pools",
                     "providerARNs": pools if isinstance(pools, list) else [pools]}
    else:
        extension = {"type": "request" if payload == "REQUEST" else "token", "authorizerUri": uri}
        if identity.get("ReauthorizeEvery") is not None:
            extension["authorizerResultTtlInSeconds"] = identity["ReauthorizeEvery"]
        role = authorizer.get("FunctionInvokeRole")
        if role and role != "NONE":
            extension["authorizerCredentials"] = role
        if payload == "REQUEST":
            sources = [
                prefix + item
                for key, prefix in (
                    ("Headers", "method.request.header."),
                    ("QueryStrings", "method.request.querystring."),
                    ("StageVariables", "stageVariables."),
                    ("Context", "context."),
                )
                for item in identity.get(key) or ()
            ]
            if sources:
                extension["identitySource"] = ", ".join(sources)
    if (cognito or payload == "TOKEN") and identity.get("ValidationExpression"):
        extension["identityValidationExpression"] = identity["ValidationExpression"]
    scheme["x-amazon-apigateway-authorizer"] = extension
    return scheme


def set_default_authorizer(doc: dict[str, Any], path: str, default: str,
                           authorizers: dict[str, Any], scopes: list[Any],
                           to_preflight: bool) -> None:
    """``DefaultAuthorizer`` on every method of a path that names no authorizer of its own
    (``set_path_default_authorizer``, quirks included: a method whose only security was
    ``NONE`` keeps it)."""
    names = {"AWS_IAM", *authorizers}
    for method, definition in iter_methods(doc, path):
        if not to_preflight and method == "options":
            continue
        existing = _security(definition, path, method)
        others = [s for s in existing if names.isdisjoint(s)]
        own = [s for s in existing if not names.isdisjoint(s)]
        chosen: list[Any] = []
        none = next((i for i, s in enumerate(others) if "NONE" in s), -1)
        if none > -1:
            del others[none]
        elif own:
            chosen = own
        else:
            chosen = [{default: list(scopes)}]
        security = others + chosen
        if security:
            definition["security"] = security
            if "AWS_IAM" in security[0]:
                add_awsiam_security_definition(doc)


def set_default_apikey_required(doc: dict[str, Any], path: str, to_preflight: bool) -> None:
    for method, definition in iter_methods(doc, path):
        existing = _security(definition, path, method)
        others = [s for s in existing if {"api_key", "api_key_false"}.isdisjoint(s)]
        keyed = [s for s in existing if not {"api_key", "api_key_false"}.isdisjoint(s)]
        false = next((i for i, s in enumerate(keyed) if "api_key_false" in s), -1)
        chosen: list[Any] = []
        if false > -1:
            del keyed[false]
        else:
            chosen = [{"api_key": []}]
        security = others + chosen
        if method == "options" and not to_preflight:
            security = others
        if security != existing:
            definition["security"] = security


# --- CORS ----------------------------------------------------------------------------------


def add_cors(doc: dict[str, Any], path: str, origin: Any, headers: Any, methods: Any,
             max_age: Any, credentials: Any) -> None:
    """The preflight ``OPTIONS`` MOCK method of one path (``add_cors``), unless it has one."""
    item = _path_item(doc, path)
    if "options" in item:
        return
    if not origin:
        raise SamError("Invalid input. Value for AllowedOrigins is required")
    if not methods:
        names = list(item)
        if ANY_METHOD in names:
            listed: list[str] = list(ALL_HTTP_METHODS)
        else:
            listed = [*names, "options"]
        methods = "'" + ",".join(sorted({m.upper() for m in listed})) + "'"
    parameters: dict[str, Any] = {"method.response.header.Access-Control-Allow-Origin": origin}
    headers_out: dict[str, Any] = {"Access-Control-Allow-Origin": {"type": "string"}}
    if headers:
        parameters["method.response.header.Access-Control-Allow-Headers"] = headers
        headers_out["Access-Control-Allow-Headers"] = {"type": "string"}
    if methods:
        parameters["method.response.header.Access-Control-Allow-Methods"] = methods
        headers_out["Access-Control-Allow-Methods"] = {"type": "string"}
    if max_age is not None:
        parameters["method.response.header.Access-Control-Max-Age"] = max_age
        headers_out["Access-Control-Max-Age"] = {"type": "integer"}
    if credentials is True:
        parameters["method.response.header.Access-Control-Allow-Credentials"] = "'true'"
        headers_out["Access-Control-Allow-Credentials"] = {"type": "string"}
    item["options"] = {
        "summary": "CORS support",
        "consumes": ["application/json"],
        "produces": ["application/json"],
        INTEGRATION: {
            "type": "mock",
            "requestTemplates": {"application/json": '{\n  "statusCode" : 200\n}\n'},
            "responses": {"default": {
                "statusCode": "200",
                "responseParameters": parameters,
                "responseTemplates": {"application/json": "{}\n"},
            }},
        },
        "responses": {"200": {"description": "Default response for CORS method",
                              "headers": headers_out}},
    }


# --- resource policies ---------------------------------------------------------------------


def _policy(doc: dict[str, Any]) -> dict[str, Any]:
    policy = doc.get("x-amazon-apigateway-policy")
    if not isinstance(policy, dict):
        policy = doc["x-amazon-apigateway-policy"] = {}
    return policy


def _add_statements(policy: dict[str, Any], statements: list[dict[str, Any]],
                    single: bool = False) -> None:
    policy["Version"] = "2012-10-17"
    if policy.get("Statement") is None:
        policy["Statement"] = statements[0] if single else statements
        return
    existing = policy["Statement"]
    existing = existing if isinstance(existing, list) else [existing]
    for statement in statements:
        if single or statement not in existing:
            existing.append(statement)
    policy["Statement"] = existing


def _method_resources(doc: dict[str, Any], path: str, stage: Any) -> list[Any]:
    methods = list(_path_item(doc, path))
    trimmed = re.sub(r"{([a-zA-Z0-9._-]+|[a-zA-Z0-9._-]+\+|proxy\+)}", "*", path)
    out = []
    for m in methods:
        verb = "*" if m.lower() in (ANY_METHOD, "any") else m.upper()
        out.append({"Fn::Sub": ["execute-api:/${__Stage__}/" + verb + trimmed,
                                {"__Stage__": stage}]})
    return out


def add_resource_policy(doc: dict[str, Any], policy_spec: dict[str, Any], path: str,
                        stage: Any) -> None:
    """``Auth.ResourcePolicy`` for one path (``add_resource_policy``)."""
    policy = _policy(doc)
    resources = _method_resources(doc, path, stage)
    for key, effect in (("AwsAccountWhitelist", "Allow"), ("AwsAccountBlacklist", "Deny")):
        accounts = policy_spec.get(key)
        if accounts:
            _add_statements(policy, [{
                "Effect": effect, "Action": "execute-api:Invoke", "Resource": resources,
                "Principal": {"AWS": accounts if isinstance(accounts, list) else [accounts]},
            }], single=True)
    for key, operator in (("IpRangeWhitelist", "NotIpAddress"), ("IpRangeBlacklist", "IpAddress")):
        ranges = policy_spec.get(key)
        if ranges:
            ranges = ranges if isinstance(ranges, list) else [ranges]
            _add_statements(policy, _allow_deny(resources, {operator: {"aws:SourceIp": ranges}}))
    for prefix, operator in (("Blacklist", "StringEquals"), ("Whitelist", "StringNotEquals")):
        endpoints = policy_spec.get("SourceVpc" + prefix)
        if endpoints is not None and not all(isinstance(e, str) for e in endpoints):
            raise SamError(f"SourceVpc{prefix} must be a list of strings. Use Intrinsic"
                           f"Vpc{prefix} instead for values that use Intrinsic Functions")
        condition: dict[str, list[Any]] = {}
        for endpoint in endpoints or ():
            if endpoint.startswith("vpc-"):
                condition.setdefault("aws:SourceVpc", []).append(endpoint)
            if endpoint.startswith("vpce-"):
                condition.setdefault("aws:SourceVpce", []).append(endpoint)
        for key, name in (("IntrinsicVpc", "aws:SourceVpc"), ("IntrinsicVpce", "aws:SourceVpce")):
            given = policy_spec.get(key + prefix)
            if given is not None:
                condition.setdefault(name, []).extend(given if isinstance(given, list) else [given])
        if condition.get("aws:SourceVpc") or condition.get("aws:SourceVpce"):
            _add_statements(policy, _allow_deny(resources, {operator: condition}))


def _allow_deny(resources: list[Any], condition: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"Action": "execute-api:Invoke", "Resource": resources, "Principal": "*"}
    return [{"Effect": "Allow", **base}, {"Effect": "Deny", **base, "Condition": condition}]


def add_custom_statements(doc: dict[str, Any], statements: Any) -> None:
    policy = _policy(doc)
    policy["Version"] = "2012-10-17"
    if policy.get("Statement") is None:
        policy["Statement"] = statements
        return
    statements = statements if isinstance(statements, list) else [statements]
    existing = policy["Statement"]
    existing = existing if isinstance(existing, list) else [existing]
    existing.extend(s for s in statements if s not in existing)
    policy["Statement"] = existing


# --- request parameters and models -------------------------------------------------------


def add_request_parameters(doc: dict[str, Any], path: str, method: str,
                           parameters: list[dict[str, Any]]) -> None:
    definition = _method(doc, path, method)
    existing = definition.get("parameters", [])
    if not isinstance(existing, list):
        raise SamError(f"parameters of path {path} method {method} must be a list")
    for parameter in parameters:
        name = parameter["Name"]
        location, field = name.replace("method.request.", "").split(".", 1)
        existing.append({"in": "query" if location == "querystring" else location,
                         "name": field, "required": parameter["Required"], "type": "string"})
        if parameter["Caching"]:
            integration = definition[INTEGRATION]
            integration["cacheKeyParameters"] = [*integration.get("cacheKeyParameters", []), name]
    definition["parameters"] = existing


def add_request_model(doc: dict[str, Any], path: str, method: str, model: dict[str, Any]) -> None:
    name = model["Model"].lower()
    required = model.get("Required")
    definition = _method(doc, path, method)
    if doc.get("swagger") is not None:
        parameter: dict[str, Any] = {"in": "body", "name": name,
                                     "schema": {"$ref": f"#/definitions/{name}"}}
        if required is not None:
            parameter["required"] = required
        definition["parameters"] = [*definition.get("parameters", []), parameter]
    elif is_openapi3(doc):
        body: dict[str, Any] = {"content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}
        if required is not None:
            body["required"] = required
        definition["requestBody"] = body


def add_request_validator(doc: dict[str, Any], path: str, method: str, body: bool,
                          parameters: bool) -> None:
    name = {(True, True): "body-and-params", (True, False): "body-only",
            (False, True): "params-only"}.get((body, parameters), "no-validation")
    validators = doc.setdefault("x-amazon-apigateway-request-validators", {})
    validators.setdefault(name, {"validateRequestBody": body,
                                 "validateRequestParameters": parameters})
    _method(doc, path, method)["x-amazon-apigateway-request-validator"] = name


def openapi3_postprocess(doc: dict[str, Any]) -> None:
    """A document SAM generated as Swagger, moved to OpenAPI 3 places when the API asks for
    ``OpenApiVersion: 3.x`` (``_openapi_postprocess``)."""
    for old, new in (("securityDefinitions", "securitySchemes"), ("definitions", "schemas")):
        if doc.get(old):
            components = doc.get("components") or {}
            components[new] = doc.pop(old)
            doc["components"] = components
    for path_item in _paths(doc).values():
        options = path_item.get("options") if isinstance(path_item, dict) else None
        if not isinstance(options, dict):
            continue
        options.pop("produces", None)
        options.pop("consumes", None)
        responses = options.get("responses")
        headers = responses.get("200", {}).get("headers") if isinstance(responses, dict) else None
        if isinstance(headers, dict):
            for header, value in list(headers.items()):
                headers[header] = {"schema": value}

