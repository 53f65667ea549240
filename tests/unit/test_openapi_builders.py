"""The OpenAPI builders of tests/support/openapi.py produce documents the config loader reads as
the routes they name (so a test built with them deploys what it says)."""

from __future__ import annotations

from pathlib import Path

from proxy.config.loader import load_config
from tests.support.gateway import write_config
from tests.support.openapi import (
    api,
    backend_uri,
    header_param,
    mock_route,
    path_param,
    proxy_route,
    query_param,
)


def test_built_routes_load_as_their_integrations(tmp_path: Path) -> None:
    doc = api({
        "/pets": {"get": mock_route(418, body='"teapot"'), "post": mock_route()},
        "/items/{id}": {"get": proxy_route(
            backend_uri("/items/{id}"), http_method="PUT",
            parameters=[path_param("id"), query_param("color"), header_param("X-Tenant")],
            request_parameters={"integration.request.path.id": "method.request.path.id"},
            cache_key_parameters=["method.request.path.id"], timeout_ms=1500,
            security=["api_key"])},
    }, title="built", api_key=True)
    config = load_config(write_config(tmp_path, doc, variables={"backend": "127.0.0.1:1"}))
    (deployed,) = config.apis
    definition = deployed.definition
    assert definition.title == "built"
    resources = {r.path: r for r in definition.resources}
    assert set(resources) >= {"/pets", "/items/{id}"}

    teapot = resources["/pets"].methods["GET"].integration
    assert (teapot.type, dict(teapot.request_templates)) == (
        "MOCK", {"application/json": '{"statusCode": 418}'})
    (answer,) = teapot.responses
    assert (answer.selection_pattern, answer.status_code) == (None, 418)
    assert dict(answer.response_templates) == {"application/json": '"teapot"'}
    assert resources["/pets"].methods["POST"].integration.responses[0].status_code == 200

    item = resources["/items/{id}"].methods["GET"]
    assert (item.integration.type, item.integration.http_method, item.integration.uri) == (
        "HTTP_PROXY", "PUT", "http://${stageVariables.backend}/items/{id}")
    assert dict(item.integration.request_parameters) == {
        "integration.request.path.id": "method.request.path.id"}
    assert item.integration.cache_key_parameters == ("method.request.path.id",)
    assert item.integration.timeout_ms == 1500
    assert set(item.request_parameters) == {
        "method.request.path.id", "method.request.querystring.color",
        "method.request.header.X-Tenant"}


def test_a_bare_api_has_no_components_and_extra_fields_are_kept() -> None:
    doc = api({"/": {"get": mock_route()}},
              extra={"x-amazon-apigateway-api-key-source": "HEADER"})
    assert "components" not in doc
    assert doc["x-amazon-apigateway-api-key-source"] == "HEADER"
    assert doc["paths"]["/"]["get"]["x-amazon-apigateway-integration"]["type"] == "mock"
    assert "security" not in doc["paths"]["/"]["get"]
