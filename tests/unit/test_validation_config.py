"""Reading request validators, models and request models from OpenAPI 3 and Swagger 2, as
AWS's importer does, and every rejection naming its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from proxy.config._check import Checker, Invalid
from proxy.config.openapi import read_definition
from proxy.config.validators import (
    EMPTY_SCHEMA,
    MethodValidation,
    RequestValidatorDef,
    ValidationReader,
    model_closure,
)

OAS3 = yaml.safe_load("""
openapi: 3.0.1
info: {title: t, version: "1"}
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
  params-only: {validateRequestParameters: true}
x-amazon-apigateway-request-validator: params-only
paths:
  /pets:
    post:
      x-amazon-apigateway-request-validator: all
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
    get: {}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string, format: email}
        id: {type: integer, format: int64}
        price: {type: number, minimum: 0, exclusiveMinimum: true}
        owner: {$ref: '#/components/schemas/Owner'}
    Owner:
      type: object
      properties:
        pets: {type: array, items: {$ref: '#/components/schemas/Pet'}}
""")

SWAGGER = yaml.safe_load("""
swagger: "2.0"
info: {title: t, version: "1"}
consumes: [application/json, application/xml]
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
paths:
  /pets:
    post:
      x-amazon-apigateway-request-validator: all
      parameters:
        - {in: body, name: RequestBodyModel, required: true,
           schema: {$ref: '#/definitions/Pet'}}
definitions:
  Pet: {type: object, properties: {name: {type: string}}}
""")

LABEL = "api.yaml"


def read(doc: dict[str, Any], path: str = "/pets", method: str = "post"
         ) -> tuple[ValidationReader, MethodValidation, list[str]]:
    ck = Checker(LABEL)
    reader = ValidationReader(ck, doc, "swagger" in doc)
    item = doc["paths"][path]
    validation = reader.method(ck, ("paths", path, method), item[method], item)
    return reader, validation, [str(p) for p in ck.problems]


def problems(doc: dict[str, Any]) -> list[str]:
    return read(doc)[2]


def one_problem(doc: dict[str, Any], path: str, text: str) -> None:
    found = problems(doc)
    assert any(p.startswith(f"{LABEL}: {path}: ") and text in p for p in found), found


def with_(doc: dict[str, Any], *path_value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *path, value = path_value
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


# --- validators --------------------------------------------------------------------------


def test_validators_the_default_and_a_method_override() -> None:
    reader, post, found = read(OAS3)
    assert found == []
    assert reader.validators["all"] == RequestValidatorDef("all", True, True)
    assert reader.validators["params-only"] == RequestValidatorDef("params-only", False, True)
    assert reader.default == reader.validators["params-only"]
    assert post.validator == reader.validators["all"]
    _, get, _ = read(OAS3, method="get")
    assert get.validator == reader.validators["params-only"]
    assert get.request_models == {}


def test_no_validators_means_no_validator() -> None:
    doc = copy.deepcopy(OAS3)
    del doc["x-amazon-apigateway-request-validators"]
    del doc["x-amazon-apigateway-request-validator"]
    del doc["paths"]["/pets"]["post"]["x-amazon-apigateway-request-validator"]
    _, post, found = read(doc)
    assert found == [] and post.validator is None


def test_an_unknown_validator_name_is_named() -> None:
    one_problem(with_(OAS3, "x-amazon-apigateway-request-validator", "strict"),
                "x-amazon-apigateway-request-validator",
                "'strict' is not defined in x-amazon-apigateway-request-validators "
                "(defined: all, params-only)")
    one_problem(with_(OAS3, "paths", "/pets", "post", "x-amazon-apigateway-request-validator",
                      "nope"),
                'paths."/pets".post.x-amazon-apigateway-request-validator', "'nope'")


def test_a_misspelt_validator_field_is_named() -> None:
    doc = with_(OAS3, "x-amazon-apigateway-request-validators", "all",
                {"validateRequestBodies": True})
    one_problem(doc, "x-amazon-apigateway-request-validators.all.validateRequestBodies",
                "unknown field")
    doc = with_(OAS3, "x-amazon-apigateway-request-validators", "all",
                {"validateRequestBody": "yes"})
    one_problem(doc, "x-amazon-apigateway-request-validators.all.validateRequestBody",
                "must be true or false")


# --- models ------------------------------------------------------------------------------


def test_models_have_refs_resolved_and_unsupported_parts_removed() -> None:
    reader, post, _ = read(OAS3)
    assert post.request_models == {"application/json": "Pet"}
    pet = reader.models["Pet"]
    assert pet.references == {"Owner"}
    props = pet.schema["properties"]
    assert props["owner"] == {"$ref": "#/definitions/Owner"}
    assert props["name"]["format"] == "email"  # a format AWS's validator checks
    assert "format" not in props["id"]  # int64: not checked by AWS
    assert "exclusiveMinimum" not in props["price"]  # "not supported by API Gateway"
    assert reader.models["Owner"].references == {"Pet"}


def test_the_closure_of_a_circular_model_holds_both() -> None:
    reader, _, _ = read(OAS3)
    closure = model_closure("Pet", reader.models)
    assert closure["$ref"] == "#/definitions/Pet"
    assert set(closure["definitions"]) == {"Pet", "Owner"}


@pytest.mark.parametrize(
    "ref",
    [
        "#/components/schemas/Owner",
        "https://apigateway.amazonaws.com/restapis/abc123/models/Owner",
    ],
)
def test_reference_forms(ref: str) -> None:
    doc = with_(OAS3, "components", "schemas", "Pet", "properties", "owner", {"$ref": ref})
    reader, _, found = read(doc)
    assert found == []
    assert reader.models["Pet"].schema["properties"]["owner"] == {"$ref": "#/definitions/Owner"}


def test_a_reference_into_a_model_keeps_its_path() -> None:
    doc = with_(OAS3, "components", "schemas", "Pet", "properties", "owner",
                {"$ref": "#/components/schemas/Owner/properties/pets"})
    reader, _, found = read(doc)
    assert found == []
    assert reader.models["Pet"].schema["properties"]["owner"] == {
        "$ref": "#/definitions/Owner/properties/pets"}


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        ("#/components/schemas/Nobody", "points to no model in this document"),
        ("#/definitions/Owner", "only references to models are supported"),
        ("other.yaml#/Owner", "only references to models are supported"),
        ("#/components/schemas/Owner/properties/nothing", "points to no model"),
    ],
)
def test_a_bad_reference_is_named(ref: str, text: str) -> None:
    doc = with_(OAS3, "components", "schemas", "Pet", "properties", "owner", {"$ref": ref})
    one_problem(doc, 'components.schemas.Pet.properties.owner."$ref"', text)


def test_model_names_must_be_alphanumeric() -> None:
    doc = with_(OAS3, "components", "schemas", "Pet_Input", {"type": "object"})
    one_problem(doc, "components.schemas.Pet_Input", "may contain only A-Z a-z 0-9")


@pytest.mark.parametrize("schema", [None, ""])
def test_a_model_without_a_schema_is_awss_error(schema: Any) -> None:
    one_problem(with_(OAS3, "components", "schemas", "Empty", schema),
                "components.schemas.Empty", EMPTY_SCHEMA)


def test_a_schema_with_a_type_and_no_properties_is_accepted() -> None:
    doc = with_(OAS3, "components", "schemas", "Empty",
                {"title": "Empty Schema", "type": "object"})
    assert problems(doc) == []


def test_an_invalid_draft4_schema_is_named_at_its_field() -> None:
    doc = with_(OAS3, "components", "schemas", "Pet", "properties", "name", {"type": "strin"})
    one_problem(doc, "components.schemas.Pet.properties.name.type",
                "is not a valid JSON Schema draft 4 model")
    doc = with_(OAS3, "components", "schemas", "Pet", "properties", "name", {"pattern": "(["})
    one_problem(doc, "components.schemas.Pet.properties.name.pattern", "draft 4")


def test_one_of_is_rejected_in_swagger_only() -> None:
    alt = {"oneOf": [{"type": "string"}, {"type": "null"}]}
    assert problems(with_(OAS3, "components", "schemas", "Pet", "properties", "name", alt)) == []
    one_problem(with_(SWAGGER, "definitions", "Pet", "properties", "name", alt),
                "definitions.Pet.properties.name.oneOf", "oneOf is not supported")


def test_yaml_dates_in_a_schema_are_json_strings() -> None:
    doc = yaml.safe_load("""
openapi: 3.0.1
info: {title: t, version: "1"}
paths: {/pets: {post: {}}}
components: {schemas: {Day: {type: string, enum: [2024-01-31]}}}
""")
    reader, _, found = read(doc)
    assert found == []
    assert reader.models["Day"].schema["enum"] == ["2024-01-31"]


# --- request models ----------------------------------------------------------------------


def test_an_inline_request_schema_becomes_a_model_named_like_awss() -> None:
    inline = {"type": "object", "required": ["q"], "properties": {
        "owner": {"$ref": "#/components/schemas/Owner"}}}
    doc = with_(OAS3, "paths", "/pets", "post", "requestBody",
                {"content": {"application/json": {"schema": inline},
                             "application/xml": {"schema": inline}}})
    reader, post, found = read(doc)
    assert found == []
    name = post.request_models["application/json"]
    assert name.startswith("MODEL") and len(name) == 11 and name[5:].isalnum()
    assert post.request_models["application/xml"] == name  # the same schema, one model
    assert reader.models[name].references == {"Owner"}
    # stable: the same document gives the same name
    assert read(doc)[1].request_models["application/json"] == name


def test_content_keys_default_and_star_star() -> None:
    body = {"content": {
        "Application/JSON; charset=utf-8": {"schema": {"$ref": "#/components/schemas/Pet"}},
        "$default": {"schema": {"$ref": "#/components/schemas/Owner"}},
        "text/plain": {},  # no schema: no model
    }}
    _, post, found = read(with_(OAS3, "paths", "/pets", "post", "requestBody", body))
    assert found == []
    assert post.request_models == {"application/json": "Pet", "$default": "Owner"}
    star = {"content": {"*/*": {"schema": {"$ref": "#/components/schemas/Pet"}}}}
    _, post, _ = read(with_(OAS3, "paths", "/pets", "post", "requestBody", star))
    assert post.request_models == {"$default": "Pet"}


def test_a_request_body_reference() -> None:
    doc = with_(OAS3, "paths", "/pets", "post", "requestBody",
                {"$ref": "#/components/requestBodies/NewPet"})
    doc["components"]["requestBodies"] = {"NewPet": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Pet"}}}}}
    _, post, found = read(doc)
    assert found == [] and post.request_models == {"application/json": "Pet"}
    one_problem(with_(doc, "paths", "/pets", "post", "requestBody", {"$ref": "#/nothing"}),
                'paths."/pets".post.requestBody."$ref"', "points to nothing")


def test_swagger_body_models_follow_consumes() -> None:
    _, post, found = read(SWAGGER)
    assert found == []
    assert post.request_models == {"application/json": "Pet", "application/xml": "Pet"}
    op = with_(SWAGGER, "paths", "/pets", "post", "consumes", ["text/csv"])
    assert read(op)[1].request_models == {"text/csv": "Pet"}
    bare = copy.deepcopy(SWAGGER)
    del bare["consumes"]
    assert read(bare)[1].request_models == {"application/json": "Pet"}


def test_a_swagger_body_parameter_from_the_path_item_or_a_reference() -> None:
    doc = copy.deepcopy(SWAGGER)
    body = doc["paths"]["/pets"]["post"].pop("parameters")
    doc["paths"]["/pets"]["parameters"] = body
    assert read(doc)[1].request_models["application/json"] == "Pet"
    doc = copy.deepcopy(SWAGGER)
    doc["parameters"] = {"Body": doc["paths"]["/pets"]["post"]["parameters"][0]}
    doc["paths"]["/pets"]["post"]["parameters"] = [{"$ref": "#/parameters/Body"}]
    assert read(doc)[1].request_models["application/json"] == "Pet"


def test_references_are_followed_as_the_rest_of_the_definition_follows_them() -> None:
    # a body parameter or request body behind two references had no model (one hop only)
    doc = copy.deepcopy(SWAGGER)
    doc["parameters"] = {"Alias": {"$ref": "#/parameters/Body"},
                         "Body": doc["paths"]["/pets"]["post"]["parameters"][0]}
    doc["paths"]["/pets"]["post"]["parameters"] = [{"$ref": "#/parameters/Alias"}]
    assert read(doc)[1].request_models["application/json"] == "Pet"
    doc = with_(OAS3, "paths", "/pets", "post", "requestBody",
                {"$ref": "#/components/requestBodies/Alias"})
    doc["components"]["requestBodies"] = {
        "Alias": {"$ref": "#/components/requestBodies/New%20Pet"},
        "New Pet": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Pet"}}}}}
    _, post, found = read(doc)
    assert found == [] and post.request_models == {"application/json": "Pet"}
    doc["components"]["requestBodies"]["New Pet"] = {"$ref": "#/components/requestBodies/Alias"}
    one_problem(doc, 'paths."/pets".post.requestBody."$ref"', "references form a loop")


def test_a_bad_parameter_reference_is_reported_once() -> None:
    # the definition's reader reports it; the request models' reader reported it again
    doc = with_(SWAGGER, "paths", "/pets", "parameters", [{"$ref": "#/parameters/Nope"}])
    del doc["paths"]["/pets"]["post"]["parameters"]  # so the path item's are looked at
    ck = Checker(LABEL)
    with pytest.raises(Invalid):
        read_definition(ck, with_(doc, "paths", "/pets", "post",
                                  "x-amazon-apigateway-integration", {"type": "mock"}))
    assert [str(p) for p in ck.problems] == [
        f"{LABEL}: paths.\"/pets\".parameters[0].\"$ref\": '#/parameters/Nope' points to "
        "nothing in this document"]


def test_a_swagger_body_parameter_needs_a_schema() -> None:
    doc = with_(SWAGGER, "paths", "/pets", "post", "parameters",
                [{"in": "body", "name": "b"}])
    one_problem(doc, 'paths."/pets".post.parameters[0]', "must have a schema")


def test_every_problem_of_a_model_is_reported() -> None:
    doc = with_(OAS3, "components", "schemas", "Pet", "properties", {
        "a": {"$ref": "#/components/schemas/Nobody"},
        "b": {"$ref": "#/components/schemas/Nor"},
    })
    found = problems(doc)
    assert len([p for p in found if "points to no model" in p]) == 2, found
