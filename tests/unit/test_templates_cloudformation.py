"""CloudFormation as CDK synthesizes it: the Resource/Method tree as an OpenAPI document,
Fn::Join-built Lambda ARNs, cdk.out asset folders, stages, usage plans and keys; and every
refusal named by logical id and property path."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from proxy.config import load_config
from proxy.errors import ConfigError
from proxy.templates import read_template, translate_template
from proxy.templates.cloudformation import generated_key_value

DATA = Path(__file__).parent.parent / "data" / "templates"
CDK = DATA / "cdk-app" / "PetsStack.template.json"
API = "PetsApi4A1E5C2B"


def translate_doc(doc: Any, folder: Path, name: str = "PetsStack.template.json",
                  overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return translate_template(doc, file=str(folder / name), template_dir=str(folder),
                              config_dir=str(folder), overrides=overrides or {},
                              overrides_file="--parameter-overrides").config


def problems_of(doc: Any, folder: Path, name: str = "t.json") -> list[str]:
    with pytest.raises(ConfigError) as info:
        translate_doc(doc, folder, name)
    return [str(p).replace(f"{folder}/", "") for p in info.value.problems]


@pytest.fixture(scope="module")
def cdk_doc() -> dict[str, Any]:
    doc: dict[str, Any] = read_template(CDK, str(CDK))
    return doc


@pytest.fixture(scope="module")
def cdk(cdk_doc: dict[str, Any]) -> dict[str, Any]:
    return translate_doc(cdk_doc, CDK.parent)


def operation(config: dict[str, Any], path: str, key: str) -> dict[str, Any]:
    found: dict[str, Any] = config["apis"][0]["definition"]["paths"][path][key]
    return found


def test_the_resource_tree_becomes_paths(cdk: dict[str, Any]) -> None:
    [api] = cdk["apis"]
    assert api["id"] == API
    assert list(api["definition"]["paths"]) == ["/pets", "/pets/{petId}", "/health",
                                                "/{proxy+}"]
    assert api["definition"]["info"]["title"] == "PetsApi"
    assert api["definition"]["x-amazon-apigateway-binary-media-types"] == ["image/png"]
    assert api["definition"]["x-amazon-apigateway-minimum-compression-size"] == 1024


def test_fn_join_lambda_arns_name_the_function(cdk: dict[str, Any]) -> None:
    integration = operation(cdk, "/pets", "get")["x-amazon-apigateway-integration"]
    assert integration == {
        "httpMethod": "POST", "type": "aws_proxy",
        "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
               "arn:aws:lambda:us-east-1:123456789012:function:PetsHandler3B5C6D7E/invocations"}


def test_api_key_and_authorizer_become_security(cdk: dict[str, Any]) -> None:
    assert operation(cdk, "/pets", "get")["security"] == [{"api_key": []}]
    assert operation(cdk, "/pets/{petId}", "get")["security"] == [
        {"PetsStackPetsApiTokenAuthorizer": []}]
    schemes = cdk["apis"][0]["definition"]["components"]["securitySchemes"]
    assert schemes["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    assert schemes["PetsStackPetsApiTokenAuthorizer"]["x-amazon-apigateway-authorizer"] == {
        "type": "token",
        "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                         "arn:aws:lambda:us-east-1:123456789012:function:AuthHandlerC9D0E1F2"
                         "/invocations",
        "identitySource": "method.request.header.Authorization",
        "authorizerResultTtlInSeconds": 300}


def test_mock_and_http_proxy_methods(cdk: dict[str, Any]) -> None:
    health = operation(cdk, "/health", "get")["x-amazon-apigateway-integration"]
    assert health == {
        "responses": {"default": {"responseTemplates": {"application/json": '{"status": "ok"}'},
                                  "statusCode": "200"}},
        "requestTemplates": {"application/json": '{ "statusCode": 200 }'}, "type": "mock"}
    proxy = operation(cdk, "/{proxy+}", "x-amazon-apigateway-any-method")
    assert proxy["parameters"] == [{"name": "proxy", "in": "path", "required": True,
                                    "schema": {"type": "string"}}]
    assert proxy["x-amazon-apigateway-integration"]["uri"] == \
        "http://${stageVariables.backend}/{proxy}"


def test_stage_settings(cdk: dict[str, Any]) -> None:
    assert cdk["apis"][0]["stages"] == {"prod": {
        "variables": {"backend": "127.0.0.1:9001"},
        "cacheClusterEnabled": True,
        "cacheClusterSize": "0.5",
        "methodSettings": {
            "*/*": {"dataTraceEnabled": False, "throttlingBurstLimit": 200,
                    "throttlingRateLimit": 100},
            "pets/GET": {"cachingEnabled": True, "cacheTtlInSeconds": 60}},
        "accessLogSettings": {
            "format": "$context.requestId $context.httpMethod $context.resourcePath "
                      "$context.status",
            "destination": "stdout"},
    }}


def test_usage_plan_and_keys(cdk: dict[str, Any]) -> None:
    assert cdk["usagePlans"] == [{
        "id": "PetsApiBasicUsagePlan9C0D1E2F", "name": "basic",
        "apiStages": [{"apiId": API, "stage": "prod",
                       "throttle": {"/pets/GET": {"burstLimit": 4, "rateLimit": 2}}}],
        "throttle": {"burstLimit": 20, "rateLimit": 10},
        "quota": {"limit": 10000, "period": "MONTH"},
        "apiKeys": ["PetsApiKey0B1C2D3E", "PartnerKey6E7F8A9B"]}]
    assert cdk["apiKeys"] == [
        {"id": "PetsApiKey0B1C2D3E", "name": "PetsApiKey0B1C2D3E",
         "value": "client-0123456789abcdefghij", "enabled": True},
        {"id": "PartnerKey6E7F8A9B", "name": "partner",
         "value": generated_key_value("PartnerKey6E7F8A9B"), "enabled": True}]


def test_generated_key_values_are_stable_and_long_enough() -> None:
    value = generated_key_value("PartnerKey6E7F8A9B")
    assert value == generated_key_value("PartnerKey6E7F8A9B")
    assert value != generated_key_value("OtherKey")
    assert len(value) == 40 and value.isalnum()


def test_functions_run_from_the_asset_folders(cdk: dict[str, Any]) -> None:
    assert cdk["functions"] == {
        "PetsHandler3B5C6D7E": {
            "codeUri": "asset.5f1b2c9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c",
            "handler": "index.handler", "runtime": "python3.11", "timeout": 15,
            "memorySize": 512, "environment": {"GREETING": "hello-world"}},
        "AuthHandlerC9D0E1F2": {
            "codeUri": "asset.9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
            "handler": "authorizer.handler", "runtime": "python3.11"}}
    for function in cdk["functions"].values():
        assert (CDK.parent / function["codeUri"]).is_dir()


def test_code_paths_are_relative_to_the_config_that_names_the_template(
        cdk_doc: dict[str, Any]) -> None:
    config = translate_template(cdk_doc, file=str(CDK), template_dir=str(CDK.parent),
                                config_dir=str(DATA), overrides={},
                                overrides_file="x").config
    assert config["functions"]["AuthHandlerC9D0E1F2"]["codeUri"] == \
        "cdk-app/asset.9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"


def test_inline_zipfile_code(tmp_path: Path) -> None:
    doc = minimal_api()
    doc["Resources"]["Inline"] = {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.12", "Handler": "index.main",
        "Code": {"ZipFile": "def main(event, context):\n    return 1\n"}}}
    config = translate_doc(doc, tmp_path, "t.json")
    folder = Path(config["functions"]["Inline"]["codeUri"])
    assert (folder / "index.py").read_text() == "def main(event, context):\n    return 1\n"


def test_what_sluice_does_not_serve_is_listed_once(cdk_doc: dict[str, Any]) -> None:
    translation = translate_template(cdk_doc, file=str(CDK), template_dir=str(CDK.parent),
                                     config_dir=str(CDK.parent), overrides={},
                                     overrides_file="x")
    assert translation.ignored == [
        "1 AWS::ApiGateway::Account, 1 AWS::CDK::Metadata, 3 AWS::IAM::Role, "
        "3 AWS::Lambda::Permission, 1 AWS::Logs::LogGroup (nothing to do locally)"]
    assert any("Sluice uses " + generated_key_value("PartnerKey6E7F8A9B") in note
               for note in translation.notes)


def test_deployment_stage_name_and_description(tmp_path: Path) -> None:
    doc = minimal_api()
    doc["Resources"]["Deployment"]["Properties"].update({
        "StageName": "v1", "StageDescription": {
            "ThrottlingRateLimit": "50", "ThrottlingBurstLimit": 5, "CachingEnabled": "true",
            "Variables": {"n": 3},
            "MethodSettings": [{"ResourcePath": "/~1a~1{b}", "HttpMethod": "post",
                                "ThrottlingRateLimit": 1}]}})
    config = translate_doc(doc, tmp_path, "t.json")
    assert config["apis"][0]["stages"]["v1"] == {
        "variables": {"n": "3"},
        "methodSettings": {
            "*/*": {"throttlingRateLimit": 50, "throttlingBurstLimit": 5, "cachingEnabled": True},
            "a/{b}/POST": {"throttlingRateLimit": 1}}}


def test_models_validators_and_gateway_responses(tmp_path: Path) -> None:
    doc = minimal_api()
    resources = doc["Resources"]
    resources["PetModel"] = {"Type": "AWS::ApiGateway::Model", "Properties": {
        "RestApiId": {"Ref": "Api"}, "Name": "Pet", "ContentType": "application/json",
        "Schema": json.dumps({"type": "object", "required": ["name"]})}}
    resources["Validator"] = {"Type": "AWS::ApiGateway::RequestValidator", "Properties": {
        "RestApiId": {"Ref": "Api"}, "Name": "body-only", "ValidateRequestBody": True}}
    resources["Throttled"] = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": {
        "RestApiId": {"Ref": "Api"}, "ResponseType": "THROTTLED", "StatusCode": 429}}
    resources["Get"]["Properties"].update({
        "RequestValidatorId": {"Ref": "Validator"},
        "RequestModels": {"application/json": {"Ref": "PetModel"}}})
    doc_out = translate_doc(doc, tmp_path, "t.json")["apis"][0]["definition"]
    assert doc_out["components"]["schemas"] == {"Pet": {"type": "object", "required": ["name"]}}
    assert doc_out["x-amazon-apigateway-request-validators"] == {
        "body-only": {"validateRequestBody": True, "validateRequestParameters": False}}
    get = doc_out["paths"]["/"]["get"]
    assert get["x-amazon-apigateway-request-validator"] == "body-only"
    assert get["requestBody"] == {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Pet"}}}}
    assert doc_out["x-amazon-apigateway-gateway-responses"] == {"THROTTLED": {"statusCode": "429"}}


def test_a_body_api_with_properties_that_override_its_extensions(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text(textwrap.dedent("""
        openapi: 3.0.1
        info: {title: from-body}
        x-amazon-apigateway-binary-media-types: [image/gif]
        paths:
          /:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {application/json: '{"statusCode": 200}'}
        """))
    doc = {"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": "Named", "BinaryMediaTypes": ["image~1png"],
            "Body": {"Fn::Transform": {"Name": "AWS::Include",
                                       "Parameters": {"Location": "openapi.yaml"}}}}},
        "Deployment": {"Type": "AWS::ApiGateway::Deployment",
                       "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "v1"}}}}
    out = translate_doc(doc, tmp_path, "t.yaml")["apis"][0]["definition"]
    assert out["info"]["title"] == "Named"
    assert out["x-amazon-apigateway-binary-media-types"] == ["image/png"]


def minimal_api() -> dict[str, Any]:
    return {"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "minimal"}},
        "Get": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "HttpMethod": "GET", "AuthorizationType": "NONE",
            "Integration": {"Type": "MOCK",
                            "RequestTemplates": {"application/json": '{"statusCode": 200}'}}}},
        "Deployment": {"Type": "AWS::ApiGateway::Deployment",
                       "Properties": {"RestApiId": {"Ref": "Api"}}},
        "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {
            "RestApiId": {"Ref": "Api"}, "DeploymentId": {"Ref": "Deployment"},
            "StageName": "prod"}},
    }}


def _with(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize(("path", "value", "message"), [
    (("Resources", "Api", "Properties", "BodyS3Location"), {"Bucket": "b", "Key": "k"},
     "t.json: Resources.Api.Properties.BodyS3Location: Sluice cannot read the OpenAPI file from "
     "S3"),
    (("Resources", "Get", "Properties", "Integration"), None,
     "t.json: Resources.Get.Properties: has no Integration: API Gateway refuses to deploy a "
     "method without one"),
    (("Resources", "Get", "Properties", "ResourceId"), "abc123",
     "t.json: Resources.Get.Properties.ResourceId: must refer to an AWS::ApiGateway::Resource of "
     "API Api (!Ref) or its root (!GetAtt Api.RootResourceId)"),
    (("Resources", "Get", "Properties", "HttpMethod"), "FETCH",
     "t.json: Resources.Get.Properties.HttpMethod: must be one of DELETE, GET, HEAD"),
    (("Resources", "Get", "Properties", "AuthorizationType"), "CUSTOM",
     "t.json: Resources.Get.Properties.AuthorizerId: AuthorizationType CUSTOM needs an "
     "AWS::ApiGateway::Authorizer of API Api (!Ref)"),
    (("Resources", "Get", "Properties", "Integration", "Retries"), 3,
     "t.json: Resources.Get.Properties.Integration.Retries: unknown property 'Retries'"),
    (("Resources", "Stage", "Properties", "RestApiId"), "elsewhere",
     "t.json: Resources.Stage.Properties.RestApiId: must refer to an AWS::ApiGateway::RestApi of "
     "this template"),
    (("Resources", "Stage", "Properties", "MethodSettings"), [{"HttpMethod": "GET"}],
     "t.json: Resources.Stage.Properties.MethodSettings[0]: needs ResourcePath"),
    (("Resources", "Stage", "Properties", "Variables"), {"Fn::ImportValue": "shared-backend"},
     't.json: Resources.Stage.Properties.Variables."Fn::ImportValue": Fn::ImportValue is not '
     "supported"),
    (("Resources", "Api", "Type"), "AWS::ApiGatewayV2::Api",
     "t.json: Resources.Get.Properties.RestApiId: must refer to an AWS::ApiGateway::RestApi of "
     "this template"),
    (("Resources", "Loop"), {"Type": "AWS::ApiGateway::Resource", "Properties": {
        "RestApiId": {"Ref": "Api"}, "ParentId": {"Ref": "Loop"}, "PathPart": "x"}},
     "t.json: Resources.Loop.Properties.ParentId: resources are each other's parents (a loop)"),
    (("Transform",), "AWS::LanguageExtensions",
     "t.json: Transform: the transform 'AWS::LanguageExtensions' is not supported"),
    (("Outputs2",), {},
     "t.json: Outputs2: unknown template section 'Outputs2'"),
])
def test_refusals_name_the_logical_id_and_property(tmp_path: Path, path: tuple[Any, ...],
                                                   value: Any, message: str) -> None:
    doc = _with(minimal_api(), path, value)
    if path[-1] == "Loop":
        doc["Resources"]["Get"]["Properties"]["ResourceId"] = {"Ref": "Loop"}
    found = problems_of(doc, tmp_path)
    assert any(p.startswith(message) for p in found), found


def test_a_missing_asset_folder_is_an_error_at_its_metadata(
        cdk_doc: dict[str, Any], tmp_path: Path) -> None:
    found = problems_of(cdk_doc, tmp_path, "PetsStack.template.json")
    assert [p for p in found if "asset" in p] == [
        "PetsStack.template.json: Resources.PetsHandler3B5C6D7E.Metadata.\"aws:asset:path\": "
        "no such folder: asset.5f1b2c9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c "
        "(paths are relative to the template)",
        "PetsStack.template.json: Resources.AuthHandlerC9D0E1F2.Metadata.\"aws:asset:path\": "
        "no such folder: asset.9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b "
        "(paths are relative to the template)"]


def test_a_template_without_a_rest_api_is_an_error(tmp_path: Path) -> None:
    doc = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}}}
    assert problems_of(doc, tmp_path) == [
        "t.json: Resources: has no REST API to serve (an AWS::Serverless::Api, a function's Api "
        "event or an AWS::ApiGateway::RestApi)"]


def _function(runtime: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "code"},
            "Properties": {"Runtime": runtime, "Handler": "main.handler", **extra,
                           "Code": {"S3Bucket": "b", "S3Key": "k.zip"}}}


def test_runtimes_sluice_runs_and_those_it_lists(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    doc = minimal_api()
    doc["Resources"].update({
        "Custom": _function("provided.al2023"),
        "Node": _function("nodejs20.x"),
        "Py": _function("python3.12", Layers=["arn:aws:lambda:us-east-1:123456789012:layer:l:1"]),
    })
    translation = translate_template(doc, file=str(tmp_path / "t.json"),
                                     template_dir=str(tmp_path), config_dir=str(tmp_path),
                                     overrides={}, overrides_file="x")
    assert translation.config["functions"] == {
        "Custom": {"command": ["./bootstrap"], "codeUri": "code"},
        "Py": {"codeUri": "code", "handler": "main.handler", "runtime": "python3.12"}}
    assert "Node (AWS::Lambda::Function: its runtime nodejs20.x is not one Sluice runs " \
           "(python3.x, or provided.* with a bootstrap in the code folder))" in translation.ignored
    assert "Py: its Layers are not mounted: Sluice runs the code folder alone" in \
        translation.notes
    doc["Resources"]["Get"]["Properties"]["Integration"] = {
        "Type": "AWS_PROXY", "IntegrationHttpMethod": "POST",
        "Uri": {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                           "${Node.Arn}/invocations"}}
    assert problems_of(doc, tmp_path) == [
        "t.json: Resources.Node.Properties.Runtime: an API calls function Node, but its runtime "
        "nodejs20.x is not one Sluice runs (python3.x, or provided.* with a bootstrap in the code "
        "folder)"]


@pytest.mark.parametrize(("part", "message"), [
    ("a b", "segment 'a b' may contain only A-Z a-z 0-9 _ - . , : or be a whole {parameter}"),
    ("{id", "segment '{id': a {parameter} must be a whole path segment"),
    ("a/b", "must be one path segment (no /), got 'a/b'"),
    ("", "must be one path segment (no /), got ''"),
])
def test_a_path_part_is_one_segment_as_the_loader_checks_it(tmp_path: Path, part: str,
                                                            message: str) -> None:
    doc = _with(minimal_api(), ("Resources", "Part"), {
        "Type": "AWS::ApiGateway::Resource", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "PathPart": part}})
    doc["Resources"]["Get"]["Properties"]["ResourceId"] = {"Ref": "Part"}
    assert f"t.json: Resources.Part.Properties.PathPart: {message}" in problems_of(doc, tmp_path)
    doc["Resources"]["Part"]["Properties"]["PathPart"] = "{proxy+}"
    assert "/{proxy+}" in translate_doc(doc, tmp_path, "t.json")["apis"][0]["definition"]["paths"]


def test_a_policy_string_is_read_by_the_loader_s_policy_check(tmp_path: Path) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*"}]}
    doc = _with(minimal_api(), ("Resources", "Api", "Properties", "Policy"), json.dumps(policy))
    file = tmp_path / "t.json"
    file.write_text(json.dumps(doc))
    config = load_config(file, env={})
    assert config.apis[0].definition.policy is not None
    file.write_text(json.dumps(_with(doc, ("Resources", "Api", "Properties", "Policy"),
                                     '{"Version": "2012-10-17", "Statement": [')))
    with pytest.raises(ConfigError) as info:
        load_config(file, env={})
    [problem] = [str(p) for p in info.value.problems]
    assert problem.startswith(f"{file}: Resources.Api.Properties.Policy: is not valid JSON"), \
        problem
