"""Request validators (spec 9): required parameters in AWS's order, the body model chosen by
Content-Type or $default, AWS's messages and validationErrorString."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from proxy.config._check import Checker
from proxy.config.validators import ValidationReader
from proxy.validation import (
    PARSE_ERROR,
    BadRequestBody,
    BadRequestParameters,
    CompiledModels,
    RequestValidator,
    compile_request_validator,
)

PET = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "type": {"type": "string", "enum": ["dog", "cat", "fish"]},
        "name": {"type": "string"},
        "price": {"type": "number", "minimum": 25, "maximum": 500},
    },
    "required": ["type", "name", "price"],
}
GOOD = b'{"name": "Marco", "type": "dog", "price": 260}'


def oas3(operation: dict[str, Any], **root: Any) -> dict[str, Any]:
    return {
        "openapi": "3.0.1",
        "info": {"title": "t", "version": "1"},
        "x-amazon-apigateway-request-validators": {
            "all": {"validateRequestBody": True, "validateRequestParameters": True},
            "params-only": {"validateRequestParameters": True},
            "body-only": {"validateRequestBody": True},
            "none": {},
        },
        "paths": {"/pets/{petId}": {"post": operation}},
        "components": {"schemas": {"Pet": PET}},
        **root,
    }


def compile_method(doc: dict[str, Any], params: dict[str, bool] | None = None
                   ) -> RequestValidator | None:
    ck = Checker("api.yaml")
    reader = ValidationReader(ck, doc, "swagger" in doc)
    path, item = next(iter(doc["paths"].items()))
    method, operation = next(iter(item.items()))
    validation = reader.method(ck, ("paths", path, method), operation, item)
    assert ck.problems == []
    return compile_request_validator(validation, params or {}, CompiledModels(reader.models))


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


def query(**values: str) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(values))


NO_HEADERS = headers()
NO_QUERY = query()


def check(v: RequestValidator, *, h: CIMultiDictProxy[str] = NO_HEADERS,
          path: dict[str, str] | None = None, q: MultiDictProxy[str] = NO_QUERY,
          body: bytes | None = None, ctype: str | None = "application/json") -> None:
    v.check(h, path or {}, q, body, ctype)


def missing(v: RequestValidator, **kw: Any) -> BadRequestParameters:
    with pytest.raises(BadRequestParameters) as info:
        check(v, **kw)
    return info.value


def invalid(v: RequestValidator, **kw: Any) -> BadRequestBody:
    with pytest.raises(BadRequestBody) as info:
        check(v, **kw)
    return info.value


# The recorded AWS case (LocalStack test_api_gateway_request_validator), declared in the
# order path, query string, header.
RECORDED = {
    "method.request.path.issuer": True,
    "method.request.querystring.qs1": True,
    "method.request.header.x-header-param": True,
}


def params_validator(params: dict[str, bool], validator: str = "params-only") -> RequestValidator:
    v = compile_method(oas3({"x-amazon-apigateway-request-validator": validator}), params)
    assert v is not None
    return v


# --- required parameters -----------------------------------------------------------------


def test_missing_parameters_are_listed_headers_then_path_then_query_as_aws_does() -> None:
    v = params_validator(RECORDED)
    err = missing(v)
    assert err.message == "Missing required request parameters: [x-header-param, issuer, qs1]"
    assert err.response_type == "BAD_REQUEST_PARAMETERS"
    assert err.validation_error_string == err.message
    assert missing(v, path={"issuer": "i"}, q=query(qs1="x")).message == (
        "Missing required request parameters: [x-header-param]")
    assert missing(v, path={"issuer": "i"}, h=headers(x_header_param="t")).message == (
        "Missing required request parameters: [qs1]")
    check(v, path={"issuer": "i"}, h=headers(x_header_param="t"), q=query(qs1="x"))


def test_within_a_location_names_are_sorted() -> None:
    v = params_validator({
        "method.request.querystring.zeta": True,
        "method.request.querystring.alpha": True,
        "method.request.header.X-B": True,
        "method.request.header.X-A": True,
        "method.request.path.id": True,
    })
    assert missing(v).message == "Missing required request parameters: [X-A, X-B, id, alpha, zeta]"


@pytest.mark.parametrize("value", ["", " ", "\t  "])
def test_a_blank_parameter_is_missing(value: str) -> None:
    v = params_validator({"method.request.querystring.q1": True,
                          "method.request.header.h1": True})
    assert missing(v, q=query(q1=value), h=headers(h1=value)).message == (
        "Missing required request parameters: [h1, q1]")


def test_header_names_match_in_any_case() -> None:
    v = params_validator({"method.request.header.X-Api-Version": True})
    check(v, h=headers(x_api_version="2"))
    check(v, h=headers(X_API_VERSION="2"))


def test_optional_parameters_and_parameters_off_are_not_checked() -> None:
    assert compile_method(oas3({"x-amazon-apigateway-request-validator": "params-only"}),
                          {"method.request.querystring.q": False}) is None
    assert compile_method(oas3({"x-amazon-apigateway-request-validator": "body-only"}),
                          {"method.request.querystring.q": True}) is None


def test_reads_query_only_when_a_query_parameter_is_required() -> None:
    assert params_validator({"method.request.querystring.q": True}).reads_query
    assert not params_validator({"method.request.header.h": True}).reads_query


def test_parameters_fail_before_the_body() -> None:
    v = compile_method(oas3({
        "x-amazon-apigateway-request-validator": "all",
        "requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Pet"}}}},
    }), {"method.request.header.h1": True})
    assert v is not None
    assert missing(v, body=b"{}").message == "Missing required request parameters: [h1]"
    err = invalid(v, body=b"{}", h=headers(h1="v1"))
    assert err.message == "Invalid request body"


# --- which methods are validated ---------------------------------------------------------


def body_validator(**operation: Any) -> RequestValidator:
    op = {"requestBody": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Pet"}}}}, **operation}
    v = compile_method(oas3(op, **{"x-amazon-apigateway-request-validator": "all"}))
    assert v is not None
    return v


def test_a_method_without_a_validator_gets_none() -> None:
    doc = oas3({"requestBody": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Pet"}}}}})
    assert compile_method(doc, {"method.request.querystring.q": True}) is None


def test_the_method_validator_overrides_the_api_default() -> None:
    op = {"x-amazon-apigateway-request-validator": "none", "requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}
    doc = oas3(op, **{"x-amazon-apigateway-request-validator": "all"})
    assert compile_method(doc) is None  # "none" checks nothing: no validator at all


def test_the_api_default_applies() -> None:
    assert body_validator().checks_body


# --- the body model ----------------------------------------------------------------------


def test_a_valid_body_passes() -> None:
    check(body_validator(), body=GOOD)


def test_an_invalid_body_says_why_in_fges_words() -> None:
    err = invalid(body_validator(), body=b'{"name": "Molly", "type": "bird", "price": 269}')
    assert err.response_type == "BAD_REQUEST_BODY"
    assert err.message == "Invalid request body"
    assert err.validation_error_string == (
        r'[instance value (\"bird\") not found in enum (possible values: '
        r'[\"dog\",\"cat\",\"fish\"])]')


@pytest.mark.parametrize("body", [None, b""])
def test_an_empty_body_is_validated_as_an_empty_object(body: bytes | None) -> None:
    err = invalid(body_validator(), body=body)
    assert err.validation_error_string == (
        r'[object has missing required properties ([\"name\",\"price\",\"type\"])]')


def test_an_empty_body_passes_a_model_without_required_properties() -> None:
    doc = oas3({"x-amazon-apigateway-request-validator": "all", "requestBody": {"content": {
        "application/json": {"schema": {"type": "object"}}}}})
    v = compile_method(doc)
    assert v is not None
    check(v, body=None)


@pytest.mark.parametrize("body", [b"not json", b"{", b'{"a": NaN}', b"\xff\xfe", b"[1,]"])
def test_a_body_that_is_not_json_is_unknown_error_parsing(body: bytes) -> None:
    err = invalid(body_validator(), body=body)
    assert err.validation_error_string == PARSE_ERROR


def test_a_missing_content_type_is_application_json() -> None:
    v = body_validator()
    invalid(v, body=b"{}", ctype=None)
    check(v, body=GOOD, ctype=None)


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "Application/JSON"])
def test_the_content_type_matches_without_parameters_or_case(ctype: str) -> None:
    invalid(body_validator(), body=b"{}", ctype=ctype)


def test_a_content_type_without_a_model_is_not_validated() -> None:
    check(body_validator(), body=b"<xml/>", ctype="application/xml")


def test_the_default_model_applies_to_any_content_type() -> None:
    doc = oas3({"x-amazon-apigateway-request-validator": "all", "requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}},
        "$default": {"schema": {"type": "object", "required": ["anything"]}},
    }}})
    v = compile_method(doc)
    assert v is not None
    default = r'[object has missing required properties ([\"anything\"])]'
    assert invalid(v, body=b"{}", ctype="text/plain").validation_error_string == default
    assert invalid(v, body=b"{}", ctype="application/xml").validation_error_string == default
    # application/json has its own model, and a missing Content-Type is application/json
    assert "price" in invalid(v, body=b"{}", ctype=None).validation_error_string
    check(v, body=b'{"anything": 1}', ctype="application/xml")


def test_star_star_content_is_the_default_model() -> None:
    doc = oas3({"x-amazon-apigateway-request-validator": "all", "requestBody": {"content": {
        "*/*": {"schema": {"type": "array"}}}}})
    v = compile_method(doc)
    assert v is not None
    invalid(v, body=b"{}", ctype="text/csv")
    check(v, body=b"[]", ctype="text/csv")


def test_models_reached_through_refs_are_validated_too() -> None:
    schemas = {
        "Person": {"type": "object", "required": ["name", "b"], "properties": {
            "name": {"type": "string"}, "b": {"type": "number"},
            "house": {"$ref": "#/components/schemas/House"}}},
        "House": {"type": "object", "properties": {"contains": {
            "type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Person"}}}},
    }
    doc = oas3({"x-amazon-apigateway-request-validator": "all", "requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Person"}}}}},
        components={"schemas": schemas})
    v = compile_method(doc)
    assert v is not None
    # LocalStack's AWS-validated circular-models test: nested Person objects are checked
    check(v, body=b'{"name": "P1", "b": 2, "house": {"contains": [{"name": "P2", "b": 3}]}}')
    err = invalid(v, body=b'{"name": "P1", "b": 2, "house": {"contains": [{"x": 1}]}}')
    assert err.validation_error_string == (
        r'[object has missing required properties ([\"b\",\"name\"])]')


def test_swagger_body_parameters_are_keyed_by_consumes() -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "consumes": ["application/json"],
        "x-amazon-apigateway-request-validators": {"all": {
            "validateRequestBody": True, "validateRequestParameters": True}},
        "x-amazon-apigateway-request-validator": "all",
        "paths": {"/validation": {"post": {
            "consumes": ["application/xml", "text/plain"],
            "parameters": [{"in": "header", "name": "h1", "required": True},
                           {"in": "body", "name": "RequestBodyModel", "required": True,
                            "schema": {"$ref": "#/definitions/RequestBodyModel"}}],
        }}},
        "definitions": {"RequestBodyModel": PET},
    }
    v = compile_method(doc, {"method.request.header.h1": True})
    assert v is not None
    h = headers(h1="v1")
    invalid(v, body=b"{}", ctype="text/plain", h=h)
    invalid(v, body=b"{}", ctype="application/xml", h=h)
    check(v, body=b"{}", ctype="application/json", h=h)  # not in the operation's consumes
