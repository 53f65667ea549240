"""The SAM transform: the expansion equals the SAM translator's own output on its test cases,
and each rule (Globals, the implicit API, events, auth, CORS, usage plans, stages, code) comes
out in the Sluice config as SAM deploys it."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from proxy.config._check import Checker, Invalid
from proxy.errors import ConfigError
from proxy.templates import read_template, translate_template
from proxy.templates._context import Context
from proxy.templates.cloudformation import Names, generated_key_value
from proxy.templates.intrinsics import Evaluator, Scope
from proxy.templates.origins import Sources
from proxy.templates.parameters import pseudo_parameters, read_parameters
from proxy.templates.sam import expand_sam

DATA = Path(__file__).parent.parent / "data" / "templates"
REFERENCE = DATA / "sam-reference"
SAM_APP = DATA / "sam-app" / "template.yaml"


# --- the SAM translator's own test cases ----------------------------------------------------


def _context(doc: dict[str, Any], resources: dict[str, Any], extra: dict[str, str]) -> Context:
    ck = Checker("reference")
    declared = doc.get("Parameters") or {}
    overrides = {k: "x" for k, v in declared.items() if "Default" not in v}
    scope = Scope(read_parameters(ck, declared, overrides, ck, ()),
                  pseudo_parameters(ck, (), {}, "stack"), doc.get("Conditions") or {},
                  doc.get("Mappings") or {}, resources, extra)
    names = Names(None, extra)
    ctx = Context(ck, Evaluator(ck, scope, names), resources, Sources(), ".", ".")
    names.ctx = ctx
    return ctx


def _evaluated(ctx: Context, lid: str, key: str) -> Any:
    try:
        return _normalized(ctx.prop(lid, key, default=None))
    except Invalid:
        return [str(p) for p in ctx.ck.problems]


def _normalized(value: Any) -> Any:
    """What SAM leaves that does not change the deployed API: method response documentation
    (SAM wraps OpenAPI 3 CORS headers in "schema" once per post-processing pass), CORS
    consumes/produces, the order of policy statements (SAM's follows Python 2 dict hashing), and
    the "NONE" security entries CloudFormation's import ignores (Sluice drops them)."""
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _normalized(v) for k, v in value.items()
           if k not in ("consumes", "produces", "x-amazon-apigateway-endpoint-configuration")}
    if "x-amazon-apigateway-integration" in out:
        out.pop("responses", None)
    if isinstance(out.get("security"), list):
        out["security"] = [s for s in out["security"] if not (isinstance(s, dict) and
                                                              list(s) == ["NONE"])]
    statements = out.get("Statement")
    if isinstance(statements, dict):
        out["Statement"] = [statements]
    elif isinstance(statements, list):
        out["Statement"] = sorted(statements, key=lambda s: json.dumps(s, sort_keys=True))
    return out


_COMPARED = ("AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage", "AWS::ApiGateway::UsagePlan",
             "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey")


@pytest.mark.parametrize("name", sorted(p.stem for p in (REFERENCE / "input").glob("*.yaml")))
def test_the_expansion_equals_the_sam_translators(name: str) -> None:
    doc = read_template(REFERENCE / "input" / f"{name}.yaml", name)
    expected = json.loads((REFERENCE / "output" / f"{name}.json").read_text())
    ck = Checker(name)
    declared = doc.get("Parameters") or {}
    overrides = {k: "x" for k, v in declared.items() if "Default" not in v}
    static = Evaluator(ck, Scope(read_parameters(ck, declared, overrides, ck, ()),
                                 pseudo_parameters(ck, (), {}, "stack"),
                                 doc.get("Conditions") or {}, doc.get("Mappings") or {},
                                 doc["Resources"]))
    present = {lid: r for lid, r in doc["Resources"].items()
               if "Condition" not in r or static.condition(r["Condition"], ())}
    expanded = expand_sam(ck, static, present, doc.get("Globals"))
    assert ck.problems == []
    mine = _context(doc, expanded.resources, expanded.extra_refs)
    theirs = _context(expected, expected["Resources"], {})
    stages = {(r["Properties"]["RestApiId"]["Ref"], _evaluated(mine, lid, "StageName")): lid
              for lid, r in expanded.resources.items() if r["Type"] == "AWS::ApiGateway::Stage"}
    present = []
    for lid, resource in expected["Resources"].items():
        if "Condition" in resource and not theirs.ev.condition(resource["Condition"], ()):
            continue
        kind = resource["Type"]
        if kind not in _COMPARED:
            continue
        mine_id = lid
        if kind == "AWS::ApiGateway::Stage":  # SAM hashes the id of a stage not named [A-Za-z0-9]
            mine_id = stages[(resource["Properties"]["RestApiId"]["Ref"],
                              _evaluated(theirs, lid, "StageName"))]
        assert mine_id in expanded.resources, f"{lid} ({kind}) is missing"
        present.append(mine_id)
        keys = set(resource.get("Properties", {})) | set(
            expanded.resources[mine_id].get("Properties", {}))
        keys -= {"DeploymentId", "Tags", "StageKeys", "Description", "FailOnWarnings",
                 "EndpointConfiguration", "Parameters", "DisableExecuteApiEndpoint", "Mode",
                 "SecurityPolicy", "EndpointAccessMode"}
        if kind != "AWS::ApiGateway::UsagePlan":
            keys.discard("Description")
        for key in sorted(keys):
            assert _evaluated(mine, mine_id, key) == _evaluated(theirs, lid, key), (lid, key)
    generated = [lid for lid, r in expanded.resources.items() if r["Type"] in _COMPARED]
    assert sorted(generated) == sorted(present)


# --- the realistic SAM app ------------------------------------------------------------------


def translate(file: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = read_template(file, str(file))
    return translate_template(doc, file=str(file), template_dir=str(file.parent),
                              config_dir=str(file.parent), overrides=overrides or {},
                              overrides_file="--parameter-overrides").config


def problems(file: Path, overrides: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        translate(file, overrides)
    return [str(p) for p in info.value.problems]


def api(config: dict[str, Any], api_id: str) -> dict[str, Any]:
    [found] = [a for a in config["apis"] if a["id"] == api_id]
    return found


@pytest.fixture(scope="module")
def sam_app() -> dict[str, Any]:
    return translate(SAM_APP)


def test_the_app_has_its_api_and_the_implicit_one_with_sams_stages(sam_app: dict[str, Any]) -> None:
    assert [a["id"] for a in sam_app["apis"]] == ["PetsApi", "ServerlessRestApi"]
    assert sorted(api(sam_app, "PetsApi")["stages"]) == ["Stage", "dev"]
    assert sorted(api(sam_app, "ServerlessRestApi")["stages"]) == ["Prod", "Stage"]
    assert api(sam_app, "PetsApi")["definition"]["info"]["title"] == "template-pets"


def test_globals_merge_into_each_function(sam_app: dict[str, Any]) -> None:
    functions = sam_app["functions"]
    assert sorted(functions) == ["AdoptionWorker", "AuthorizerFunction", "HealthFunction",
                                 "ListPetsFunction", "pets-create"]
    create = functions["pets-create"]
    assert create == {"codeUri": "src", "handler": "pets.create_pet", "runtime": "python3.11",
                      "timeout": 10, "memorySize": 256, "reservedConcurrency": 2,
                      "environment": {"TABLE_NAME": "pets", "STAGE": "dev",
                                      "MAX_NAME_LENGTH": "64"}}
    assert functions["AuthorizerFunction"]["timeout"] == 3  # the function's own value wins
    assert functions["AdoptionWorker"]["codeUri"] == "worker"
    assert functions["AdoptionWorker"]["environment"]["QUEUE_ARN"] == \
        "arn:aws:sqs:us-east-1:123456789012:AdoptionsQueue"


def test_inline_code_becomes_a_folder_with_index_py(sam_app: dict[str, Any]) -> None:
    health = sam_app["functions"]["HealthFunction"]
    assert health["handler"] == "index.handler"
    code = Path(health["codeUri"], "index.py").read_text()
    assert 'return {"statusCode": 200' in code


def _lambda_uri(name: str) -> str:
    return ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:us-east-1:123456789012:function:{name}/invocations")


def test_events_become_lambda_proxy_methods_with_the_apis_auth(sam_app: dict[str, Any]) -> None:
    doc = api(sam_app, "PetsApi")["definition"]
    get = doc["paths"]["/pets"]["get"]
    assert get["x-amazon-apigateway-integration"] == {
        "type": "aws_proxy", "httpMethod": "POST", "uri": _lambda_uri("ListPetsFunction"),
        "cacheKeyParameters": ["method.request.querystring.limit"]}
    assert get["security"] == [{"TokenAuthorizer": []}, {"api_key": []}]
    assert get["parameters"] == [{"in": "query", "name": "limit", "required": False,
                                  "type": "string"}]
    post = doc["paths"]["/pets"]["post"]
    assert post["x-amazon-apigateway-integration"]["uri"] == _lambda_uri("pets-create")
    assert doc["securityDefinitions"]["TokenAuthorizer"] == {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {
            "type": "token", "authorizerUri": _lambda_uri("AuthorizerFunction"),
            "authorizerResultTtlInSeconds": 300,
            "identityValidationExpression": "^Bearer [-0-9a-zA-Z._]+$"}}


def test_cors_preflight_is_a_mock_without_auth_when_the_api_says_so(
        sam_app: dict[str, Any]) -> None:
    options = api(sam_app, "PetsApi")["definition"]["paths"]["/pets"]["options"]
    assert "security" not in options
    integration = options["x-amazon-apigateway-integration"]
    assert integration["type"] == "mock"
    assert integration["responses"]["default"]["responseParameters"] == {
        "method.response.header.Access-Control-Allow-Origin": "'https://pets.example.com'",
        "method.response.header.Access-Control-Allow-Headers":
            "'Content-Type,Authorization,x-api-key'",
        "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS,POST'",
    }
    # Globals.Api applies to the implicit API too
    assert "options" in api(sam_app, "ServerlessRestApi")["definition"]["paths"]["/health"]


def test_the_usage_plan_and_its_generated_key(sam_app: dict[str, Any]) -> None:
    assert sam_app["usagePlans"] == [{
        "id": "PetsApiUsagePlan", "name": "pets-basic",
        "apiStages": [{"apiId": "PetsApi", "stage": "dev"}],
        "throttle": {"rateLimit": 5, "burstLimit": 10},
        "quota": {"limit": 1000, "period": "DAY"}, "apiKeys": ["PetsApiApiKey"]}]
    assert sam_app["apiKeys"] == [{"id": "PetsApiApiKey", "name": "PetsApiApiKey",
                                   "value": generated_key_value("PetsApiApiKey"),
                                   "enabled": True}]


def test_stage_settings_come_from_the_api(sam_app: dict[str, Any]) -> None:
    assert api(sam_app, "PetsApi")["stages"]["dev"] == {
        "variables": {"table": "pets"},
        "cacheClusterEnabled": False,
        "methodSettings": {
            "*/*": {"throttlingRateLimit": 10, "throttlingBurstLimit": 20},
            "pets/GET": {"cachingEnabled": False, "cacheTtlInSeconds": 60},
        },
    }
    assert api(sam_app, "PetsApi")["stages"]["Stage"] == {}


def test_gateway_responses(sam_app: dict[str, Any]) -> None:
    responses = api(sam_app, "PetsApi")["definition"]["x-amazon-apigateway-gateway-responses"]
    assert responses == {"UNAUTHORIZED": {
        "responseParameters": {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"},
        "responseTemplates": {"application/json": '{"error":"unauthorized"}'},
        "statusCode": "401"}}


def test_parameter_overrides_change_the_deployed_api() -> None:
    prod = translate(SAM_APP, {"StageName": "prod", "AWS::Region": "eu-west-1"})
    stage = api(prod, "PetsApi")["stages"]["prod"]
    assert stage["cacheClusterEnabled"] is True
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100
    uri = api(prod, "PetsApi")["definition"]["paths"]["/pets"]["get"][
        "x-amazon-apigateway-integration"]["uri"]
    assert uri.startswith("arn:aws:apigateway:eu-west-1:lambda:")
    assert problems(SAM_APP, {"StageName": "qa"}) == [
        "--parameter-overrides: StageName: must be one of dev, prod (AllowedValues), got 'qa'"]


# --- single rules -------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    file = tmp_path / "template.yaml"
    file.write_text("Transform: AWS::Serverless-2016-10-31\n" + text)
    return file


FUNCTION = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      Events:
        Get:
          Type: Api
          Properties: {{Path: /items, Method: get{extra}}}
"""


def test_authorizer_none_leaves_a_method_without_an_authorizer(tmp_path: Path) -> None:
    config = translate(write(tmp_path, textwrap.dedent("""
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: v1
              Auth:
                DefaultAuthorizer: Pool
                Authorizers:
                  Pool: {UserPoolArn: "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_X"}
        """) + FUNCTION.format(extra=", RestApiId: !Ref Api, Auth: {Authorizer: NONE}")))
    method = api(config, "Api")["definition"]["paths"]["/items"]["get"]
    assert "security" not in method or method["security"] == []


def test_openapi_version_3_gives_an_openapi_document_and_no_extra_stage(tmp_path: Path) -> None:
    config = translate(write(tmp_path, textwrap.dedent("""
        Globals:
          Api:
            OpenApiVersion: 3.0.1
            Auth: {ApiKeyRequired: true}
        Resources:""") + FUNCTION.format(extra="")))
    implicit = api(config, "ServerlessRestApi")
    assert list(implicit["stages"]) == ["Prod"]
    doc = implicit["definition"]
    assert doc["openapi"] == "3.0.1" and "swagger" not in doc
    assert doc["components"]["securitySchemes"]["api_key"]["name"] == "x-api-key"


def test_a_shared_usage_plan_covers_every_api_that_asks(tmp_path: Path) -> None:
    config = translate(write(tmp_path, textwrap.dedent("""
        Globals:
          Api:
            Auth:
              ApiKeyRequired: true
              UsagePlan: {CreateUsagePlan: SHARED, Quota: {Limit: 5, Period: WEEK}}
        Resources:
          One: {Type: AWS::Serverless::Api, Properties: {StageName: a}}
          Two: {Type: AWS::Serverless::Api, Properties: {StageName: b}}
          None: {Type: AWS::Serverless::Api, Properties: {StageName: c,
                 Auth: {UsagePlan: {CreateUsagePlan: NONE}}}}
        """) + FUNCTION.format(extra=", RestApiId: !Ref One")))
    [plan] = config["usagePlans"]
    assert plan["id"] == "ServerlessUsagePlan"
    assert plan["apiStages"] == [{"apiId": "One", "stage": "a"}, {"apiId": "Two", "stage": "b"}]
    assert plan["quota"] == {"limit": 5, "period": "WEEK"}
    assert plan["apiKeys"] == ["ServerlessApiKey"]


def test_auto_publish_alias_calls_the_alias(tmp_path: Path) -> None:
    config = translate(write(tmp_path, "Resources:" + FUNCTION.format(extra="").replace(
        "      CodeUri: src\n", "      CodeUri: src\n      AutoPublishAlias: live\n")))
    uri = api(config, "ServerlessRestApi")["definition"]["paths"]["/items"]["get"][
        "x-amazon-apigateway-integration"]["uri"]
    assert uri.endswith(":function:Fn:live/invocations")


def test_a_local_definition_uri_is_read_as_written(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(textwrap.dedent("""
        openapi: 3.0.1
        info: {title: from-file}
        paths:
          /ping:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {application/json: '{"statusCode": 200}'}
        """))
    config = translate(write(tmp_path, textwrap.dedent("""
        Resources:
          Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1, DefinitionUri: api.yaml}}
        """)))
    assert list(api(config, "Api")["definition"]["paths"]) == ["/ping"]


@pytest.mark.parametrize(("text", "message"), [
    ("""
     Resources:
       Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1,
             DefinitionUri: s3://bucket/api.yaml}}
     """, "template.yaml: Resources.Api.Properties.DefinitionUri: Sluice cannot read the OpenAPI "
         "file from S3"),
    ("Resources:" + FUNCTION.format(extra=", RestApiId: !Ref Missing"),
     "template.yaml: Resources.Fn.Properties.Events.Get.Properties.RestApiId: RestApiId must be a "
     "valid reference to an 'AWS::Serverless::Api' resource in same template."),
    ("Resources:" + FUNCTION.format(extra=", Auth: {Authorizer: Nope}"),
     "template.yaml: Resources.Fn.Properties.Events.Get: Unable to set Authorizer [Nope] on API "
     "method [get] for path [/items] because the related API does not define any Authorizers."),
    ("Resources:" + FUNCTION.format(extra=", Colour: blue"),
     "template.yaml: Resources.Fn.Properties.Events.Get.Properties.Colour: property Colour not "
     "defined for resource of type Api"),
    ("Resources:" + FUNCTION.format(extra="").replace("CodeUri: src", "CodeUri: nowhere"),
     "template.yaml: Resources.Fn.Properties.CodeUri: no such folder: "),
    ("Globals: {Function: {CodeUri: nowhere}}\nResources:" +
     FUNCTION.format(extra="").replace("      CodeUri: src\n", ""),
     "template.yaml: Globals.Function.CodeUri: no such folder: "),
    ("Globals: {Function: {Colour: blue}}\nResources:" + FUNCTION.format(extra=""),
     "template.yaml: Globals.Function.Colour: 'Colour' is not a supported property of "
     "'Function'."),
    ("""
     Resources:
       Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1, Auth: {
             UsagePlan: {CreateUsagePlan: SOMETIMES}}}}
     """, "template.yaml: Resources.Api.Properties.Auth: 'CreateUsagePlan' accepts one of "
         "['SHARED', 'PER_API', 'NONE']."),
    ("""
     Resources:
       Api: {Type: AWS::Serverless::Api, Properties: {StageName: v1,
             Cors: {AllowOrigin: "'*'", AllowCredentials: true}}}
     """, "template.yaml: Resources.Api: Unable to add Cors configuration because "
         "'AllowCredentials' can not be true when 'AllowOrigin' is \"'*'\" or not set"),
    ("Resources:" + FUNCTION.format(extra="") + FUNCTION.format(extra="").replace(
        "  Fn:", "  Fn2:"),
     "template.yaml: Resources.Fn2.Properties.Events.Get: API method \"get\" defined multiple "
     "times for path \"/items\"."),
])
def test_sam_errors_name_the_logical_id_and_property(tmp_path: Path, text: str,
                                                     message: str) -> None:
    found = [p.replace(f"{tmp_path}/", "")
             for p in problems(write(tmp_path, textwrap.dedent(text)))]
    assert any(p.startswith(message) for p in found), found


def test_a_function_calls_are_errors_only_when_its_code_is_needed(tmp_path: Path) -> None:
    file = write(tmp_path, textwrap.dedent("""
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: v1
              DefinitionBody:
                openapi: 3.0.1
                info: {title: t}
                paths:
                  /x:
                    get:
                      x-amazon-apigateway-integration:
                        type: aws_proxy
                        httpMethod: POST
                        uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Used.Arn}/invocations
          Used:
            Type: AWS::Serverless::Function
            Properties: {Handler: app.handler, Runtime: python3.11, CodeUri: s3://bucket/used.zip}
          Unused:
            Type: AWS::Serverless::Function
            Properties: {Handler: app.handler, Runtime: python3.11, CodeUri: s3://bucket/b.zip}
        """))
    assert problems(file) == [
        f"{file}: Resources.Used.Properties.CodeUri: an API calls function Used, but its code is "
        "in S3, which Sluice cannot read: point CodeUri at the folder (SAM) or synthesize with the "
        "asset folders in cdk.out (CDK)"]


def test_stack_name_comes_from_the_file_name(tmp_path: Path) -> None:
    file = write(tmp_path, "Resources:" + FUNCTION.format(extra=""))
    target = tmp_path / "orders-service.yaml"
    os.replace(file, target)
    config = translate(target)
    assert api(config, "ServerlessRestApi")["definition"]["info"]["title"] == "orders-service"


def test_a_function_s_events_are_read_and_checked_once() -> None:
    # they were read three times and checked twice (the duplicates deduplicated afterwards)
    resources: dict[str, Any] = {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {
        "Handler": "app.handler", "Runtime": "python3.12", "Events": {
            "Bad": "x",
            "Get": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get", "Foo": 1}},
            "Up": {"Type": "S3", "Properties": {}}}}}}
    ck = Checker("t")
    static = Evaluator(ck, Scope({}, pseudo_parameters(ck, (), {}, "stack"), {}, {}, resources))
    expanded = expand_sam(ck, static, resources, None)
    assert [f"{p.path}: {p.message}" for p in ck.problems] == [
        "Resources.Fn.Properties.Events.Bad: must be a mapping, got a string",
        "Resources.Fn.Properties.Events.Get.Properties.Foo: property Foo not defined for "
        "resource of type Api (allowed: Path, Method, RestApiId, Stage, Auth, RequestModel, "
        "RequestParameters, TimeoutInMillis, ResponseTransferMode)"]
    assert expanded.ignored_events == ["Fn.Events.Up (S3)"]
