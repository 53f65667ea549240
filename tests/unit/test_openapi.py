"""OpenAPI 3.0 / Swagger 2.0 definitions -> ApiDefinition, and every rejection message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.config import GATEWAY_RESPONSE_TYPES, load_definition
from proxy.config.model import ApiDefinition
from proxy.config.openapi import resource_path_error
from proxy.errors import ConfigError

DATA = Path(__file__).parent.parent / "data"
LABEL = "defs/api.yaml"
PETS_GET = ("paths", "/pets", "get")
INTEGRATION = (*PETS_GET, "x-amazon-apigateway-integration")


def base() -> dict[str, Any]:
    return {
        "openapi": "3.0.1",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/pets": {
                "get": {
                    "x-amazon-apigateway-integration": {
                        "type": "http_proxy",
                        "httpMethod": "GET",
                        "uri": "http://example.test/pets",
                    }
                }
            }
        },
        "components": {
            "securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
        },
    }


def put(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    node = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return doc


def load(tmp_path: Path, doc: Any, name: str = "api.yaml") -> ApiDefinition:
    file = tmp_path / name
    file.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return load_definition(file, file_label=LABEL)


def problems(tmp_path: Path, doc: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, doc)
    assert all(p.file == LABEL for p in info.value.problems)
    return [str(p) for p in info.value.problems]


def one_problem(tmp_path: Path, doc: Any, path: str, message: str) -> None:
    found = problems(tmp_path, doc)
    assert any(p.startswith(f"{LABEL}: {path}: ") and message in p for p in found), found


# --- the sample definitions --------------------------------------------------------------


def test_oas3_and_swagger2_of_one_api_are_equal() -> None:
    oas3 = load_definition(DATA / "petstore.yaml", file_label="petstore.yaml")
    swagger = load_definition(DATA / "petstore-swagger.json", file_label="petstore-swagger.json")
    assert oas3 == swagger
    assert [r.path for r in oas3.resources] == ["/", "/pets", "/pets/{petId}", "/{proxy+}"]


def test_sample_definition_values() -> None:
    d = load_definition(DATA / "petstore.yaml", file_label="petstore.yaml")
    assert d.title == "Simple PetStore"
    root, pets, pet, proxy = d.resources
    assert root.methods["GET"].integration.type == "MOCK"
    get = pets.methods["GET"]
    assert get.api_key_required and get.operation_id == "listPets"
    assert dict(get.request_parameters) == {
        "method.request.querystring.type": False,
        "method.request.querystring.page": True,
    }
    i = get.integration
    assert (i.type, i.http_method, i.timeout_ms) == ("HTTP", "GET", 5000)
    assert i.uri == "http://${stageVariables.backend}/petstore/pets"
    assert i.cache_key_parameters == ("method.request.querystring.type",)
    assert [(r.selection_pattern, r.status_code) for r in i.responses] == [
        ("5\\d{2}", 502),
        (None, 200),
    ]
    assert dict(i.responses[1].response_parameters) == {
        "method.response.header.X-Source": "'petstore'"
    }
    assert pets.methods["POST"].integration.timeout_ms == 29_000  # the AWS default
    assert dict(pet.methods["GET"].request_parameters) == {"method.request.path.petId": True}
    assert pet.methods["GET"].integration.tls_insecure_skip_verification is True
    assert pet.methods["GET"].api_key_required is False  # root-level security is ignored
    assert set(proxy.methods) == {"ANY"}
    assert proxy.methods["ANY"].integration.type == "AWS_PROXY"
    assert d.gateway_responses["THROTTLED"].status_code == 429
    assert d.gateway_responses["DEFAULT_4XX"].status_code is None
    assert d.binary_media_types == ("image/png", "image/jpg")
    assert (d.api_key_source, d.minimum_compression_size) == ("HEADER", 1024)


def test_minimal_definition_defaults(tmp_path: Path) -> None:
    d = load(tmp_path, base())
    i = d.resources[0].methods["GET"].integration
    assert (i.passthrough_behavior, i.timeout_ms, i.responses) == ("WHEN_NO_MATCH", 29_000, ())
    assert (d.api_key_source, d.binary_media_types, d.minimum_compression_size) == (
        "HEADER",
        (),
        None,
    )
    assert dict(d.gateway_responses) == {}


def test_json_definition_and_json_error_line(tmp_path: Path) -> None:
    assert load(tmp_path, json.dumps(base()), "api.json").title == "t"
    found = problems(tmp_path, '{\n  "openapi": "3.0.1",\n  "info": }')
    assert found == [f"{LABEL}: invalid JSON at line 3, column 11: Expecting value"]


def test_gateway_response_types_are_awss_21() -> None:
    assert len(GATEWAY_RESPONSE_TYPES) == 21
    assert "THROTTLED" in GATEWAY_RESPONSE_TYPES and "WAF_FILTERED" in GATEWAY_RESPONSE_TYPES


# --- document level ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        ({"info": {"title": "t"}, "paths": {}}, "", "is neither OpenAPI 3.0"),
        ({"openapi": "3.1.0", "info": {"title": "t"}, "paths": {}}, "openapi", "must be 3.0.x"),
        ({"swagger": "1.2", "info": {"title": "t"}, "paths": {}}, "swagger", 'must be "2.0"'),
        ({"openapi": "3.0.0", "paths": {}}, "info", "is required"),
        ({"openapi": "3.0.0", "info": {"title": ""}, "paths": {}}, "info.title", "must not be"),
        ({"openapi": "3.0.0", "info": {"title": "t"}}, "paths", "is required"),
        ({"openapi": "3.0.0", "info": {"title": "t"}, "paths": []}, "paths", "must be a mapping"),
    ],
)
def test_document_problems(tmp_path: Path, doc: dict[str, Any], path: str, message: str) -> None:
    found = problems(tmp_path, doc)
    prefix = f"{LABEL}: {path}: " if path else f"{LABEL}: "
    assert any(p.startswith(prefix) and message in p for p in found), found


def test_document_not_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "- a\n- b\n") == [
        f"{LABEL}: must be a mapping (an OpenAPI document), got a list"
    ]


def test_unknown_openapi_fields_are_ignored(tmp_path: Path) -> None:
    doc = put(base(), (*PETS_GET, "summary"), "list")
    put(doc, (*PETS_GET, "x-vendor"), {"a": 1})
    put(doc, ("paths", "/pets", "trace"), {"anything": True})
    put(doc, ("x-amazon-apigateway-request-validators",), {"all": {}})
    assert set(load(tmp_path, doc).resources[0].methods) == {"GET"}


# --- resource paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("pets", "must start with /"),
        ("/pets/", "empty segment"),
        ("/pets//x", "empty segment"),
        ("/pets/{id}x", "must be a whole path segment"),
        ("/pets/a b", "may contain only"),
        ("/pets/a*", "may contain only"),
        ("/{proxy+}/x", "greedy parameter {proxy+} must be the last segment"),
        ("/a/{id}/b/{id}", "{id} appears twice"),
    ],
)
def test_bad_resource_paths(tmp_path: Path, path: str, message: str) -> None:
    doc = base()
    doc["paths"][path] = doc["paths"].pop("/pets")
    quoted = path if path == "pets" else json.dumps(path)  # keys of [A-Za-z0-9_-] stay bare
    one_problem(tmp_path, doc, f"paths.{quoted}", message)


@pytest.mark.parametrize("path", ["/", "/a-b_c.d,e:f", "/{x}", "/a/{proxy+}", "/v1.0/{id}/x"])
def test_good_resource_paths(path: str) -> None:
    assert resource_path_error(path) is None


def test_only_one_variable_child_per_resource(tmp_path: Path) -> None:
    doc = base()
    item = doc["paths"]["/pets"]
    doc["paths"] = {"/pets/{id}": item, "/pets/{petId}/toys": copy.deepcopy(item)}
    one_problem(
        tmp_path, doc, 'paths."/pets/{petId}/toys"', "{petId} conflicts with {id} under /pets"
    )


# --- operations and integrations ---------------------------------------------------------


def test_method_without_integration_is_an_error(tmp_path: Path) -> None:
    doc = base()
    del doc["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"]
    one_problem(tmp_path, doc, 'paths."/pets".get.x-amazon-apigateway-integration', "is required")


def test_any_method_and_all_verbs(tmp_path: Path) -> None:
    doc = base()
    op = doc["paths"]["/pets"]["get"]
    for verb in ("put", "post", "delete", "options", "head", "patch"):
        doc["paths"]["/pets"][verb] = copy.deepcopy(op)
    doc["paths"]["/pets"]["x-amazon-apigateway-any-method"] = copy.deepcopy(op)
    methods = load(tmp_path, doc).resources[0].methods
    assert set(methods) == {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "ANY"}
    assert methods["ANY"].http_method == "ANY"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("type", "soap", "must be one of HTTP_PROXY, HTTP, MOCK, AWS_PROXY, AWS, got 'soap'"),
        ("uri", "ftp://x", "must start with http:// or https:// for type HTTP_PROXY"),
        ("uri", 5, "must be a string, got an integer"),
        ("httpMethod", "FETCH", "must be one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, ANY"),
        ("timeoutInMillis", 30_000, "must be an integer between 50 and 29000, got 30000"),
        ("timeoutInMillis", 49, "must be an integer between 50 and 29000, got 49"),
        ("timeoutInMillis", "100", "must be an integer between 50 and 29000, got a string"),
        ("passthroughBehavior", "sometimes", "must be one of WHEN_NO_MATCH, WHEN_NO_TEMPLATES"),
        ("contentHandling", "BASE64", "must be one of CONVERT_TO_BINARY, CONVERT_TO_TEXT"),
        ("cacheNamespace", "", "must not be empty"),
        ("requestTemplates", ["x"], "must be a mapping, got a list"),
        ("timeout", 5, "unknown field 'timeout' (allowed: type, uri, httpMethod"),
        ("connectionType", "WIRE", "must be one of INTERNET, VPC_LINK"),
    ],
)
def test_integration_field_problems(tmp_path: Path, field: str, value: Any, message: str) -> None:
    doc = put(base(), (*INTEGRATION, field), value)
    path = f'paths."/pets".get.x-amazon-apigateway-integration.{field}'
    one_problem(tmp_path, doc, path, message)


def test_integration_case_folding(tmp_path: Path) -> None:
    doc = put(base(), (*INTEGRATION, "passthroughBehavior"), "when_no_templates")
    put(doc, (*INTEGRATION, "type"), "Http")
    put(doc, (*INTEGRATION, "httpMethod"), "any")
    put(doc, (*INTEGRATION, "timeoutInMillis"), 50)
    i = load(tmp_path, doc).resources[0].methods["GET"].integration
    assert (i.type, i.http_method, i.passthrough_behavior, i.timeout_ms) == (
        "HTTP",
        "ANY",
        "WHEN_NO_TEMPLATES",
        50,
    )


@pytest.mark.parametrize("kind", ["http", "http_proxy", "aws_proxy", "aws"])
@pytest.mark.parametrize("field", ["uri", "httpMethod"])
def test_uri_and_http_method_required_unless_mock(tmp_path: Path, kind: str, field: str) -> None:
    doc = put(base(), (*INTEGRATION, "type"), kind)
    del doc["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"][field]
    one_problem(
        tmp_path,
        doc,
        f'paths."/pets".get.x-amazon-apigateway-integration.{field}',
        f"is required for type {kind.upper()}",
    )


def test_mock_needs_neither_uri_nor_method(tmp_path: Path) -> None:
    doc = base()
    doc["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"] = {"type": "MOCK"}
    i = load(tmp_path, doc).resources[0].methods["GET"].integration
    assert (i.type, i.uri, i.http_method) == ("MOCK", None, None)


def test_integration_responses(tmp_path: Path) -> None:
    doc = put(
        base(),
        (*INTEGRATION, "responses"),
        {
            "default": {"statusCode": 200},
            "4\\d{2}": {"statusCode": "404"},
            500: {"statusCode": 500},
        },
    )
    responses = load(tmp_path, doc).resources[0].methods["GET"].integration.responses
    assert [(r.selection_pattern, r.status_code) for r in responses] == [
        (None, 200),
        ("4\\d{2}", 404),
        ("500", 500),
    ]


@pytest.mark.parametrize(
    ("responses", "path", "message"),
    [
        ({"default": {"statusCode": "abc"}}, "default.statusCode", "must be an HTTP status code"),
        ({"default": {"statusCode": 600}}, "default.statusCode", "between 100 and 599, got 600"),
        ({"default": {}}, "default.statusCode", "is required"),
        ({"(": {"statusCode": 400}}, '"("', "must be 'default' or a regular expression"),
        ({"default": {"statusCode": 200, "x": 1}}, "default.x", "unknown field 'x'"),
        (
            {"default": {"statusCode": 200, "responseParameters": {"bad": "'x'"}}},
            "default.responseParameters.bad",
            "must be method.response.header.NAME",
        ),
        (
            {
                "default": {
                    "statusCode": 200,
                    "responseParameters": {"method.response.header.A": "x"},
                }
            },
            'default.responseParameters."method.response.header.A"',
            "must be integration.response.header.NAME",
        ),
    ],
)
def test_integration_response_problems(
    tmp_path: Path, responses: dict[Any, Any], path: str, message: str
) -> None:
    doc = put(base(), (*INTEGRATION, "responses"), responses)
    one_problem(
        tmp_path,
        doc,
        f'paths."/pets".get.x-amazon-apigateway-integration.responses.{path}',
        message,
    )


def test_tls_config_unknown_key(tmp_path: Path) -> None:
    doc = put(base(), (*INTEGRATION, "tlsConfig"), {"insecureSkipVerify": True})
    one_problem(
        tmp_path,
        doc,
        'paths."/pets".get.x-amazon-apigateway-integration.tlsConfig.insecureSkipVerify',
        "unknown field 'insecureSkipVerify' (allowed: insecureSkipVerification)",
    )


# --- parameters, mappings, cache keys ----------------------------------------------------


def test_parameters_merge_path_item_and_operation(tmp_path: Path) -> None:
    doc = base()
    doc["paths"]["/pets"]["parameters"] = [
        {"name": "q", "in": "query"},
        {"name": "X-Trace", "in": "header", "required": True},
        {"name": "session", "in": "cookie"},
    ]
    put(doc, (*PETS_GET, "parameters"), [{"name": "q", "in": "query", "required": True}])
    params = load(tmp_path, doc).resources[0].methods["GET"].request_parameters
    assert dict(params) == {
        "method.request.querystring.q": True,
        "method.request.header.X-Trace": True,
    }


def test_parameter_ref_is_followed(tmp_path: Path) -> None:
    doc = put(base(), ("components", "parameters", "Q"), {"name": "q", "in": "query"})
    put(doc, (*PETS_GET, "parameters"), [{"$ref": "#/components/parameters/Q"}])
    params = load(tmp_path, doc).resources[0].methods["GET"].request_parameters
    assert dict(params) == {"method.request.querystring.q": False}


@pytest.mark.parametrize(
    ("parameters", "path", "message"),
    [
        ([{"$ref": "#/components/parameters/none"}], 'parameters[0]."$ref"', "points to nothing"),
        ([{"$ref": "other.yaml#/x"}], 'parameters[0]."$ref"', "only local references"),
        ([{"in": "query"}], "parameters[0].name", "is required"),
        ([{"name": "q", "in": "body2"}], "parameters[0].in", "must be one of path, query"),
        ([{"name": "a b", "in": "query"}], "parameters[0].name", "must match"),
        (
            [{"name": "q", "in": "query"}, {"name": "q", "in": "header"}],
            "parameters",
            "declared in both query and header",
        ),
        ("q", "parameters", "must be a list"),
    ],
)
def test_parameter_problems(tmp_path: Path, parameters: Any, path: str, message: str) -> None:
    doc = put(base(), (*PETS_GET, "parameters"), parameters)
    one_problem(tmp_path, doc, f'paths."/pets".get.{path}', message)


def test_mapping_and_cache_key_must_name_declared_parameters(tmp_path: Path) -> None:
    doc = put(
        base(),
        (*INTEGRATION, "requestParameters"),
        {"integration.request.header.x": "method.request.header.x"},
    )
    put(doc, (*INTEGRATION, "cacheKeyParameters"), ["method.request.querystring.q"])
    found = problems(tmp_path, doc)
    base_path = f'{LABEL}: paths."/pets".get.x-amazon-apigateway-integration'
    assert found == [
        f'{base_path}.requestParameters."integration.request.header.x": method.request.header.x '
        "is not a declared parameter of this method (declared: none)",
        f"{base_path}.cacheKeyParameters[0]: must name a declared parameter of this method "
        "(declared: none)",
    ]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"request.header.x": "'v'"}, "must be integration.request.{path|querystring|header}.NAME"),
        ({"integration.request.header.x": "header.x"}, "must be method.request.{path|"),
    ],
)
def test_request_parameter_shapes(tmp_path: Path, mapping: dict[str, str], message: str) -> None:
    doc = put(base(), (*INTEGRATION, "requestParameters"), mapping)
    assert any(message in p for p in problems(tmp_path, doc))


def test_request_parameter_sources_accepted(tmp_path: Path) -> None:
    mapping = {
        "integration.request.header.a": "'literal value'",
        "integration.request.header.b": "stageVariables.backend",
        "integration.request.header.c": "context.requestId",
        "integration.request.header.d": "method.request.body.pet.name",
    }
    doc = put(base(), (*INTEGRATION, "requestParameters"), mapping)
    assert dict(load(tmp_path, doc).resources[0].methods["GET"].integration.request_parameters) == (
        mapping
    )


def test_cache_key_parameters_prefix(tmp_path: Path) -> None:
    doc = put(base(), (*INTEGRATION, "cacheKeyParameters"), ["querystring.type"])
    one_problem(
        tmp_path,
        doc,
        'paths."/pets".get.x-amazon-apigateway-integration.cacheKeyParameters[0]',
        "must be a string starting with method.request.",
    )


# --- security ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x-api-key", "X-API-Key"])
def test_operation_security_sets_api_key_required(tmp_path: Path, name: str) -> None:
    doc = put(base(), ("components", "securitySchemes", "api_key", "name"), name)
    put(doc, (*PETS_GET, "security"), [{"api_key": []}])
    assert load(tmp_path, doc).resources[0].methods["GET"].api_key_required is True


def test_root_security_is_ignored(tmp_path: Path) -> None:
    doc = put(base(), ("security",), [{"api_key": []}])
    assert load(tmp_path, doc).resources[0].methods["GET"].api_key_required is False


def test_swagger_security_definitions(tmp_path: Path) -> None:
    doc = base()
    del doc["openapi"], doc["components"]
    doc["swagger"] = "2.0"
    doc["securityDefinitions"] = {"k": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
    put(doc, (*PETS_GET, "security"), [{"k": []}])
    assert load(tmp_path, doc).resources[0].methods["GET"].api_key_required is True


def test_undefined_and_unsupported_security_schemes(tmp_path: Path) -> None:
    doc = put(
        base(),
        ("components", "securitySchemes", "auth"),
        {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authorizer": {"type": "token"},
        },
    )
    put(doc, ("components", "securitySchemes", "oauth"), {"type": "oauth2", "flows": {}})
    put(doc, (*PETS_GET, "security"), [{"nope": []}, {"auth": []}, {"oauth": []}])
    found = problems(tmp_path, doc)
    # the bad authorizer is reported once, where it is defined, not again where it is named
    assert found == [
        f"{LABEL}: components.securitySchemes.auth.x-amazon-apigateway-authorizer.authorizerUri: "
        "is required for type token",
        f"{LABEL}: paths.\"/pets\".get.security[0].nope: security scheme 'nope' is not defined "
        "in components.securitySchemes",
        f"{LABEL}: paths.\"/pets\".get.security[2].oauth: security scheme 'oauth' is neither "
        "the API key scheme (type: apiKey, name: x-api-key, in: header) nor an authorizer "
        "(x-amazon-apigateway-authorizer, or x-amazon-apigateway-authtype: awsSigv4)",
    ]


# --- root extensions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "path", "message"),
    [
        (
            "x-amazon-apigateway-gateway-responses",
            {"TEAPOT": {}},
            "TEAPOT",
            "must be one of ACCESS_DENIED, API_CONFIGURATION_ERROR",
        ),
        (
            "x-amazon-apigateway-gateway-responses",
            {"THROTTLED": {"statusCode": "42"}},
            "THROTTLED.statusCode",
            "must be an HTTP status code between 100 and 599",
        ),
        (
            "x-amazon-apigateway-gateway-responses",
            {"THROTTLED": {"body": "x"}},
            "THROTTLED.body",
            "unknown field 'body' (allowed: statusCode, responseParameters",
        ),
        (
            "x-amazon-apigateway-gateway-responses",
            {"THROTTLED": {"responseParameters": {"method.response.header.A": "'x'"}}},
            'THROTTLED.responseParameters."method.response.header.A"',
            "must be gatewayresponse.header.NAME",
        ),
        (
            "x-amazon-apigateway-gateway-responses",
            {"THROTTLED": {"responseParameters": {"gatewayresponse.header.A": "integration.x"}}},
            'THROTTLED.responseParameters."gatewayresponse.header.A"',
            "must be method.request.{header|querystring|path}.NAME, stageVariables.NAME",
        ),
        ("x-amazon-apigateway-api-key-source", "COOKIE", "", "must be one of HEADER, AUTHORIZER"),
        ("x-amazon-apigateway-binary-media-types", ["png"], "[0]", "must be a media type"),
        ("x-amazon-apigateway-binary-media-types", "image/png", "", "must be a list"),
        (
            "x-amazon-apigateway-minimum-compression-size",
            10_485_761,
            "",
            "must be an integer between 0 and 10485760, got 10485761",
        ),
        ("x-amazon-apigateway-minimum-compression-size", -1, "", "between 0 and 10485760"),
    ],
)
def test_root_extension_problems(
    tmp_path: Path, key: str, value: Any, path: str, message: str
) -> None:
    doc = put(base(), (key,), value)
    sep = "" if not path or path.startswith("[") else "."
    one_problem(tmp_path, doc, f"{key}{sep}{path}", message)


def test_gateway_responses_and_root_extensions(tmp_path: Path) -> None:
    doc = put(
        base(),
        ("x-amazon-apigateway-gateway-responses",),
        {
            "INVALID_API_KEY": {
                "statusCode": "401",
                "responseParameters": {"gatewayresponse.header.X-Stage": "stageVariables.name"},
                "responseTemplates": {"application/json": '{"m":"$context.error.message"}'},
            }
        },
    )
    put(doc, ("x-amazon-apigateway-api-key-source",), "authorizer")
    put(doc, ("x-amazon-apigateway-minimum-compression-size",), 0)
    d = load(tmp_path, doc)
    g = d.gateway_responses["INVALID_API_KEY"]
    assert (g.response_type, g.status_code) == ("INVALID_API_KEY", 401)
    assert dict(g.response_parameters) == {"gatewayresponse.header.X-Stage": "stageVariables.name"}
    assert (d.api_key_source, d.minimum_compression_size) == ("AUTHORIZER", 0)


def test_every_problem_of_a_definition_is_reported(tmp_path: Path) -> None:
    doc = put(base(), (*INTEGRATION, "timeoutInMillis"), 1)
    put(doc, ("x-amazon-apigateway-minimum-compression-size",), -1)
    doc["paths"]["/x/"] = {}
    assert len(problems(tmp_path, doc)) == 3
