"""Who-may-call settings through the loader (CONTRACT 8): the aws, cognito and iam sections,
authorizers naming functions and user pools the config must have, and what a deployment
compiles from them (method ARNs, the resource policy's first phase, the phases' order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from multidict import CIMultiDict

from bench.scenario import discover, render_config
from proxy.auth import CognitoAuthorizer, Jwks, UserPool
from proxy.config import load_config
from proxy.config.model import AwsSettings
from proxy.deployment import compile_deployment
from proxy.errors import ConfigError
from proxy.runtime import offline_services
from tests.support.jwks import POOL_ARN, SigningKey, jwks_document

URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
       "arn:aws:lambda:us-east-1:123456789012:function:{}/invocations")


def _definition(**schemes: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.0.1", "info": {"title": "t"},
        "components": {"securitySchemes": schemes},
        "paths": {f"/{name}": {"get": {
            "security": [{name: []}],
            "x-amazon-apigateway-integration": {"type": "mock"}}} for name in schemes},
    }


def _token(fn: str) -> dict[str, Any]:
    return {"type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": URI.format(fn)}}


def _pool(*arns: str) -> dict[str, Any]:
    return {"type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools",
                                               "providerARNs": list(arns)}}


def _write(tmp_path: Path, definition: dict[str, Any], **config: Any) -> Path:
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(definition))
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "auth.py").write_text("def handler(event, context):\n    return {}\n")
    doc = {"apis": [{"id": "api", "definition": "api.yaml", "stages": {"prod": {}}}], **config}
    path = tmp_path / "sluice.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return [str(p) for p in info.value.problems]


FUNCTIONS = {"auth": {"handler": "auth.handler", "codeUri": "fn"}}


# --- aws ------------------------------------------------------------------------------------


def test_region_and_account_default_and_come_from_the_file_or_the_environment(
        tmp_path: Path) -> None:
    path = _write(tmp_path, _definition())
    assert load_config(path, env={}).aws == AwsSettings("us-east-1", "123456789012")
    assert load_config(path, env={"AWS_DEFAULT_REGION": "eu-west-1"}).aws.region == "eu-west-1"
    assert load_config(path, env={"AWS_REGION": "eu-north-1",
                                  "AWS_DEFAULT_REGION": "eu-west-1"}).aws.region == "eu-north-1"
    path = _write(tmp_path, _definition(), aws={"region": "ap-south-1", "accountId": "210987654321"})
    assert load_config(path, env={"AWS_REGION": "eu-north-1"}).aws == AwsSettings(
        "ap-south-1", "210987654321")


def test_bad_aws_fields_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path, _definition(), aws={"region": "mars", "accountId": 42, "zone": 1})
    found = _problems(path)
    assert f"{path}: aws.region: must be a region such as eu-west-1, got 'mars'" in found
    assert any(p.startswith(f"{path}: aws.accountId: must be 12 digits") for p in found)
    assert any(p.startswith(f"{path}: aws.zone: unknown field") for p in found)


# --- authorizers' references ------------------------------------------------------------------


def test_an_authorizer_naming_no_function_is_named_where_it_is_defined(tmp_path: Path) -> None:
    path = _write(tmp_path, _definition(tok=_token("nope")), functions=FUNCTIONS)
    assert _problems(path) == [
        f"{tmp_path / 'api.yaml'}: components.securitySchemes.tok."
        "x-amazon-apigateway-authorizer.authorizerUri: names function 'nope', which is not in "
        "functions (names: auth)"]
    swagger = {"swagger": "2.0", "info": {"title": "t"},
               "securityDefinitions": {"tok": _token("nope")}, "paths": {}}
    assert _problems(_write(tmp_path, swagger, functions=FUNCTIONS)) == [
        f"{tmp_path / 'api.yaml'}: securityDefinitions.tok.x-amazon-apigateway-authorizer."
        "authorizerUri: names function 'nope', which is not in functions (names: auth)"]


def test_a_function_named_by_a_stage_variable_is_looked_up_per_request(tmp_path: Path) -> None:
    path = _write(tmp_path, _definition(tok=_token("${stageVariables.fn}")), functions=FUNCTIONS)
    assert load_config(path, env={}).apis[0].definition.authorizers["tok"].type == "TOKEN"


def test_user_pools_need_a_jwks_in_the_config(tmp_path: Path) -> None:
    other = POOL_ARN.replace("Example", "Other")
    path = _write(tmp_path, _definition(pool=_pool(POOL_ARN, other)),
                  cognito={"userPools": {POOL_ARN: {"jwks": "jwks.json"}}})
    found = _problems(path)
    assert sorted(found) == [
        f"{tmp_path / 'api.yaml'}: components.securitySchemes.pool."
        f"x-amazon-apigateway-authorizer.providerARNs[1]: user pool {other} is not in "
        f"cognito.userPools of {tmp_path / 'sluice.yaml'}, which gives each pool its JWKS "
        f"(pools: {POOL_ARN})",
        f"{tmp_path / 'sluice.yaml'}: cognito.userPools.\"{POOL_ARN}\".jwks: no such file: "
        f"{tmp_path / 'jwks.json'} (a JWKS file relative to the config file, or an http(s) URL)"]
    # no cognito section at all: every pool is unknown (was unknown_user_pools(..., None))
    assert _problems(_write(tmp_path, _definition(pool=_pool(POOL_ARN)))) == [
        f"{tmp_path / 'api.yaml'}: components.securitySchemes.pool."
        f"x-amazon-apigateway-authorizer.providerARNs[0]: user pool {POOL_ARN} is not in "
        f"cognito.userPools of {tmp_path / 'sluice.yaml'}, which gives each pool its JWKS "
        "(pools: none)"]
    (tmp_path / "jwks.json").write_bytes(jwks_document(SigningKey("k")))
    path = _write(tmp_path, _definition(pool=_pool(POOL_ARN)),
                  cognito={"userPools": {POOL_ARN: {"jwks": "jwks.json"},
                                         other: {"jwks": "https://example.com/jwks.json"}}})
    pools = load_config(path, env={}).cognito.user_pools
    assert pools[POOL_ARN].jwks == str(tmp_path / "jwks.json")
    assert pools[other].jwks == "https://example.com/jwks.json"


def test_iam_credentials_are_checked_and_never_repeat_a_secret(tmp_path: Path) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    path = _write(tmp_path, _definition(), iam={"credentials": [
        {"accessKeyId": "akia-lower", "secretAccessKey": secret, "userArn": "alice"}]})
    found = _problems(path)
    assert any("iam.credentials[0].accessKeyId: must be an access key id" in p for p in found)
    assert any("iam.credentials[0].userArn: must be an IAM ARN" in p for p in found)
    assert all(secret not in p for p in found)
    path = _write(tmp_path, _definition(), iam={"credentials": [
        {"accessKeyId": "AKIAEXAMPLE0000001", "secretAccessKey": secret,
         "userArn": "arn:aws:iam::123456789012:user/alice"}]})
    [credential] = load_config(path, env={}).iam.credentials
    assert credential.user_id == "AKIAEXAMPLE0000001" and secret not in repr(credential)


# --- what a deployment compiles ----------------------------------------------------------------


def test_a_stage_with_a_policy_has_a_guard_and_a_method_its_authorizer_first(
        tmp_path: Path) -> None:
    definition = _definition(tok=_token("auth"))
    definition["paths"]["/tok"]["get"]["security"].append({"api_key": []})
    definition["components"]["securitySchemes"]["api_key"] = {
        "type": "apiKey", "name": "x-api-key", "in": "header"}
    definition["paths"]["/open"] = {"get": {"x-amazon-apigateway-integration": {"type": "mock"}}}
    path = _write(tmp_path, definition, functions=FUNCTIONS)
    config = load_config(path, env={})
    stage = compile_deployment(config, offline_services(config)).stage("api", "prod")
    assert stage is not None and stage.guard is None  # no policy: no first phase
    tok = stage.router.match("GET", "/tok")
    open_ = stage.router.match("GET", "/open")
    assert tok is not None and open_ is not None
    assert [p.__module__ for p in tok.value.phases] == [
        "proxy.phases.authorizer", "proxy.phases.api_key", "proxy.phases.limits"]
    assert [p.__module__ for p in open_.value.phases] == ["proxy.phases.limits"]

    definition["x-amazon-apigateway-policy"] = {"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*"}]}
    config = load_config(_write(tmp_path, definition, functions=FUNCTIONS), env={})
    stage = compile_deployment(config, offline_services(config)).stage("api", "prod")
    assert stage is not None and stage.guard is not None
    open_ = stage.router.match("GET", "/open")
    assert open_ is not None
    assert [p.__module__ for p in open_.value.phases] == ["proxy.phases.authorizer",
                                                          "proxy.phases.limits"]


def test_a_template_s_pseudo_parameters_are_the_region_and_account(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump({
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"Api": {"Type": "AWS::Serverless::Api",
                              "Properties": {"StageName": "prod", "DefinitionBody": {
                                  "openapi": "3.0.1", "info": {"title": "t"}, "paths": {}}}}}}))
    assert load_config(template, env={}).aws == AwsSettings("us-east-1", "123456789012")
    env = {"SLUICE_PARAMETER_OVERRIDES": '{"AWS::Region": "eu-west-3", '
                                         '"AWS::AccountId": "111122223333"}'}
    assert load_config(template, env=env).aws == AwsSettings("eu-west-3", "111122223333")


def test_a_template_s_region_follows_aws_region_as_a_config_s_does(tmp_path: Path) -> None:
    # AWS::Region defaulted to us-east-1 whatever the environment said
    template = Path(__file__).parents[2] / "examples" / "sam" / "template.yaml"
    assert load_config(template, env={"AWS_REGION": "eu-west-1"}).aws.region == "eu-west-1"
    assert load_config(template, env={"AWS_DEFAULT_REGION": "eu-north-1"}).aws.region == \
        "eu-north-1"
    assert load_config(template, env={"AWS_REGION": "mars"}).aws.region == "us-east-1"
    env = {"AWS_REGION": "eu-west-1",
           "SLUICE_PARAMETER_OVERRIDES": '{"AWS::Region": "eu-west-3"}'}
    assert load_config(template, env=env).aws.region == "eu-west-3"
    # a config naming the template: its ARNs are built in the same region as the config's
    config = tmp_path / "sluice.yaml"
    config.write_text(yaml.safe_dump({"apis": [{"template": str(template)}]}))
    loaded = load_config(config, env={"AWS_REGION": "eu-west-1"})
    assert loaded.aws.region == "eu-west-1"
    uris = [m.integration.uri for a in loaded.apis for r in a.definition.resources
            for m in r.methods.values() if m.integration.uri]
    assert uris and all(":eu-west-1:" in u for u in uris if ":lambda:" in u)


async def test_the_bench_s_auth_scenarios_load_and_their_token_verifies(tmp_path: Path) -> None:
    scenarios = {s.name: s for s in discover(["auth-none", "auth-token", "auth-cognito"])}
    for scenario in scenarios.values():
        path = tmp_path / f"{scenario.name}.yaml"
        path.write_text(yaml.safe_dump(render_config(scenario, "127.0.0.1:9")))
        config = load_config(path, env={})
    [(arn, pool)] = config.cognito.user_pools.items()
    cognito = CognitoAuthorizer([(UserPool.from_arn(arn), Jwks(pool.jwks))])
    headers = CIMultiDict(scenarios["auth-cognito"].mix[0].headers)
    claims = await cognito.authenticate(headers)
    assert claims.token_use == "id" and claims.expires > 4_000_000_000
