"""Small builders for the OpenAPI documents tests deploy: an operation with a MOCK or an
HTTP_PROXY integration, its parameters, and the document around them (the dict that
``tests.support.gateway.write_config`` takes).

    api({"/pets": {"get": mock_route(body='"ok"')},
         "/items/{id}": {"get": proxy_route(backend_uri("/items/{id}"),
                                            parameters=[path_param("id")],
                                            request_parameters={"integration.request.path.id":
                                                                "method.request.path.id"})}},
        api_key=True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Operation = dict[str, Any]

# The stage's backend, as bench and the integration tests set it: variables {backend: host:port}
STAGE_BACKEND = "http://${stageVariables.backend}"


def backend_uri(path: str) -> str:
    """An integration URI on the stage's ``backend`` variable: ``backend_uri("/items/{id}")``."""
    return f"{STAGE_BACKEND}{path}"


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def query_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string"}}


def header_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "schema": {"type": "string"}}


def _operation(
    integration: dict[str, Any],
    parameters: Sequence[Mapping[str, Any]],
    security: Sequence[str],
) -> Operation:
    op: Operation = {}
    if parameters:
        op["parameters"] = [dict(p) for p in parameters]
    if security:
        op["security"] = [{scheme: []} for scheme in security]
    op["responses"] = {}
    op["x-amazon-apigateway-integration"] = integration
    return op


def mock_route(
    status: int = 200,
    *,
    body: str | None = None,
    parameters: Sequence[Mapping[str, Any]] = (),
    security: Sequence[str] = (),
) -> Operation:
    """An operation whose MOCK integration answers ``status`` for every request (``body``:
    the response template for ``application/json``)."""
    response: dict[str, Any] = {"statusCode": str(status)}
    if body is not None:
        response["responseTemplates"] = {"application/json": body}
    integration = {
        "type": "mock",
        "requestTemplates": {"application/json": f'{{"statusCode": {status}}}'},
        "responses": {"default": response},
    }
    return _operation(integration, parameters, security)


def proxy_route(
    uri: str,
    *,
    http_method: str = "GET",
    parameters: Sequence[Mapping[str, Any]] = (),
    security: Sequence[str] = (),
    request_parameters: Mapping[str, str] | None = None,
    cache_key_parameters: Sequence[str] = (),
    timeout_ms: int | None = None,
) -> Operation:
    """An operation with an HTTP_PROXY integration to ``uri`` (``backend_uri`` builds the usual
    one)."""
    integration: dict[str, Any] = {"type": "http_proxy", "httpMethod": http_method, "uri": uri}
    if request_parameters:
        integration["requestParameters"] = dict(request_parameters)
    if cache_key_parameters:
        integration["cacheKeyParameters"] = list(cache_key_parameters)
    if timeout_ms is not None:
        integration["timeoutInMillis"] = timeout_ms
    return _operation(integration, parameters, security)


def api(
    paths: Mapping[str, Mapping[str, Operation]],
    *,
    title: str = "t",
    api_key: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3 document: ``paths`` maps each path to its operations by lower-case method
    (``x-amazon-apigateway-any-method`` too). ``api_key``: declare the ``api_key`` scheme
    (header ``x-api-key``) that ``security=["api_key"]`` names. ``extra``: more top-level
    fields (``x-amazon-apigateway-gateway-responses``, ...)."""
    doc: dict[str, Any] = {"openapi": "3.0.1", "info": {"title": title, "version": "1"}}
    if api_key:
        doc["components"] = {
            "securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
        }
    doc["paths"] = {path: dict(methods) for path, methods in paths.items()}
    doc.update(extra or {})
    return doc
