"""Reading authorizers, method security, resource policies, and the cognito: and iam: sections,
with every bad field named as the loader names it."""

from __future__ import annotations

import json

import pytest
import yaml

from proxy.auth._types import RequestFacts
from proxy.auth.arn import api_arn, method_arn
from proxy.auth.policy import ALLOW, NO_DECISION
from proxy.config._check import Checker, Invalid
from proxy.config.authorizers import (
    IAM_SECTION,
    AuthorizerDef,
    MethodAuthorization,
    cognito_section,
    read_method_security,
    read_security_schemes,
    resource_policy,
)

URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
       "arn:aws:lambda:us-east-1:123456789012:function:auth/invocations")
POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example"

# The shapes of AWS's own examples (DG api-gateway-swagger-extensions-authorizer.md).
SCHEMES = yaml.safe_load(f"""
api_key: {{type: apiKey, name: x-api-key, in: header}}
test-authorizer:
  type: apiKey
  name: Authorization
  in: header
  x-amazon-apigateway-authtype: custom
  x-amazon-apigateway-authorizer:
    type: token
    authorizerUri: {URI}
    authorizerCredentials: arn:aws:iam::123456789012:role/AWSLambdaRole
    authorizerResultTtlInSeconds: 60
    identityValidationExpression: "^x-[a-z]+"
request-authorizer:
  type: apiKey
  name: Unused
  in: header
  x-amazon-apigateway-authtype: custom
  x-amazon-apigateway-authorizer:
    type: request
    identitySource: method.request.header.Auth, method.request.querystring.Query1, stageVariables.v
    authorizerUri: {URI}
cognito-authorizer:
  type: apiKey
  name: Authorization
  in: header
  x-amazon-apigateway-authtype: cognito_user_pools
  x-amazon-apigateway-authorizer:
    type: cognito_user_pools
    providerARNs: ["{POOL}"]
sigv4:
  type: apiKey
  name: Authorization
  in: header
  x-amazon-apigateway-authtype: awsSigv4
oauth: {{type: oauth2, flows: {{}}}}
""")


def read(schemes, file="api.yaml"):
    ck = Checker(file)
    result = read_security_schemes(ck, ("components", "securitySchemes"), schemes)
    return result, [str(p) for p in ck.problems]


def test_aws_examples_are_read():
    authorizers, problems = read(SCHEMES)
    assert problems == []
    assert set(authorizers) == {"test-authorizer", "request-authorizer", "cognito-authorizer",
                                "sigv4"}
    token = authorizers["test-authorizer"]
    assert (token.type, token.authorizer_uri, token.result_ttl_seconds) == ("TOKEN", URI, 60)
    assert [str(s) for s in token.identity_source] == ["method.request.header.Authorization"]
    assert token.validation is not None and token.validation.pattern == "^x-[a-z]+"
    assert token.authorizer_credentials == "arn:aws:iam::123456789012:role/AWSLambdaRole"
    request = authorizers["request-authorizer"]
    assert request.type == "REQUEST" and request.result_ttl_seconds == 300
    assert [str(s) for s in request.identity_source] == [
        "method.request.header.Auth", "method.request.querystring.Query1", "stageVariables.v"]
    cognito = authorizers["cognito-authorizer"]
    assert (cognito.type, cognito.provider_arns) == ("COGNITO_USER_POOLS", (POOL,))
    assert authorizers["sigv4"] == AuthorizerDef("sigv4", "AWS_IAM")


def scheme(**authorizer):
    return {"a": {"type": "apiKey", "name": "Authorization", "in": "header",
                  "x-amazon-apigateway-authorizer": authorizer}}


PATH = "api.yaml: components.securitySchemes.a.x-amazon-apigateway-authorizer"


@pytest.mark.parametrize(("authorizer", "expected"), [
    ({"type": "jwt", "authorizerUri": URI},
     f"{PATH}.type: must be one of TOKEN, REQUEST, COGNITO_USER_POOLS, got 'jwt'"),
    ({"type": "token"}, f"{PATH}.authorizerUri: is required for type token"),
    ({"type": "token", "authorizerUri": "http://example.com"},
     f"{PATH}.authorizerUri: must be a Lambda function's invocation URI"),
    ({"type": "token", "authorizerUri": URI, "authorizerResultTtlInSeconds": 3601},
     f"{PATH}.authorizerResultTtlInSeconds: must be an integer between 0 and 3600, got 3601"),
    ({"type": "token", "authorizerUri": URI, "identityValidationExpression": "(["},
     f"{PATH}.identityValidationExpression: must be a regular expression"),
    ({"type": "token", "authorizerUri": URI, "identitySource": "method.request.querystring.t"},
     f"{PATH}.identitySource: a token authorizer reads one header"),
    ({"type": "request", "authorizerUri": URI},
     f"{PATH}.identitySource: is required for a request authorizer whose results are cached"),
    ({"type": "request", "authorizerUri": URI, "identitySource": "method.request.path.id"},
     f"{PATH}.identitySource: 'method.request.path.id' is not an identity source"),
    ({"type": "cognito_user_pools"}, f"{PATH}.providerARNs: is required for type "
                                     "cognito_user_pools"),
    ({"type": "cognito_user_pools", "providerARNs": ["arn:aws:iam::1:role/x"]},
     f"{PATH}.providerARNs[0]: must be a user pool ARN"),
    ({"type": "token", "authorizerUri": URI, "authorizerTTL": 5},
     f"{PATH}.authorizerTTL: unknown field 'authorizerTTL'"),
])
def test_bad_fields_are_named(authorizer, expected):
    authorizers, problems = read(scheme(**authorizer))
    assert authorizers == {}
    assert any(p.startswith(expected) for p in problems), problems


def test_request_authorizer_without_caching_needs_no_source():
    authorizers, problems = read(scheme(type="request", authorizerUri=URI,
                                        authorizerResultTtlInSeconds=0))
    assert problems == [] and authorizers["a"].identity_source == ()


def test_scheme_must_be_an_api_key_header_scheme():
    _, problems = read({"a": {"type": "http", "scheme": "bearer", "name": "Authorization",
                              "x-amazon-apigateway-authorizer": {"type": "token",
                                                                 "authorizerUri": URI}}})
    assert problems == ["api.yaml: components.securitySchemes.a: an authorizer's security "
                        "scheme must be type: apiKey, in: header (its name is the token "
                        "header), as AWS imports it"]


class TestMethodSecurity:
    authorizers, _ = read(SCHEMES)

    def method(self, value):
        ck = Checker("api.yaml")
        try:
            result = read_method_security(
                ck, ("paths", "/pets", "get", "security"), value, authorizers=self.authorizers,
                api_key_schemes={"api_key"}, schemes=set(SCHEMES),
                schemes_at="components.securitySchemes")
        except Invalid:
            result = None
        return result, [str(p) for p in ck.problems]

    def test_authorizer_and_api_key(self):
        result, problems = self.method([{"api_key": []}, {"test-authorizer": []}])
        assert problems == []
        assert result == MethodAuthorization("CUSTOM", self.authorizers["test-authorizer"],
                                             True, ())

    def test_cognito_scopes_and_iam(self):
        result, _ = self.method([{"cognito-authorizer": ["email", "pets/read"]}])
        assert result.authorization_type == "COGNITO_USER_POOLS"
        assert result.authorization_scopes == ("email", "pets/read")
        result, _ = self.method([{"sigv4": []}])
        assert (result.authorization_type, result.api_key_required) == ("AWS_IAM", False)
        result, _ = self.method([])
        assert result == MethodAuthorization()

    @pytest.mark.parametrize(("value", "expected"), [
        ([{"test-authorizer": []}, {"request-authorizer": []}],
         'security[1].request-authorizer: a method has one authorizer'),
        ([{"nope": []}], "security[0].nope: security scheme 'nope' is not defined in "
                         "components.securitySchemes"),
        ([{"oauth": []}], "security[0].oauth: security scheme 'oauth' is neither the API key "
                          "scheme"),
        ([{"test-authorizer": ["email"]}], "security[0].test-authorizer: scopes "
                                           "(authorizationScopes) apply to cognito_user_pools "
                                           "authorizers only"),
        ("api_key", "security: must be a list of security requirements"),
    ])
    def test_problems(self, value, expected):
        result, problems = self.method(value)
        assert result is None
        assert any(p.startswith(f'api.yaml: paths."/pets".get.{expected}') for p in problems), problems


class TestResourcePolicy:
    def read(self, value):
        ck = Checker("api.yaml")
        try:
            return resource_policy(ck, ("x-amazon-apigateway-policy",), value), ck.problems
        except Invalid:
            return None, [str(p) for p in ck.problems]

    def test_string_or_object_with_execute_api_expanded_at_compile(self):
        doc = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*", "Condition": {
                "IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}}]}
        for value in (doc, json.dumps(doc)):
            parsed, problems = self.read(value)
            assert problems == []
            prefix = api_arn("us-east-1", "123456789012", "petstore")
            policy = parsed.compile(prefix)
            arn = method_arn(prefix, "prod", "GET", "/pets")
            assert policy.evaluate(arn, RequestFacts("192.0.2.9")) == ALLOW
            assert policy.evaluate(arn, RequestFacts("203.0.113.9")) == NO_DECISION

    def test_problems_inside_the_policy_are_named(self):
        _, problems = self.read({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                                "Resource": "*"}]})
        assert problems == ["api.yaml: x-amazon-apigateway-policy.Statement[0].Principal: is "
                            "required in a resource policy"]


class TestSluiceSections:
    def test_cognito(self, tmp_path):
        (tmp_path / "jwks.json").write_text('{"keys": []}')
        ck = Checker("sluice.yaml")
        kind = cognito_section(str(tmp_path), ".")
        settings = kind(ck, ("cognito",), {"userPools": {
            POOL: {"jwks": "jwks.json"},
            POOL.replace("Example", "Other"): {"jwks": "https://example.com/jwks.json"}}})
        assert ck.problems == []
        assert settings.user_pools[POOL].jwks == str(tmp_path / "jwks.json")
        assert settings.user_pools[POOL.replace("Example", "Other")].jwks.startswith("https://")

    @pytest.mark.parametrize(("value", "expected"), [
        ({"userPools": {POOL: {"jwks": "missing.json"}}},
         f'sluice.yaml: cognito.userPools."{POOL}".jwks: no such file: missing.json'),
        ({"userPools": {"pool-1": {"jwks": "https://x"}}},
         "sluice.yaml: cognito.userPools.pool-1: must be a user pool ARN"),
        ({"userPools": {POOL: {}}}, f'sluice.yaml: cognito.userPools."{POOL}".jwks: is required'),
        ({}, "sluice.yaml: cognito.userPools: is required"),
    ])
    def test_cognito_problems(self, tmp_path, value, expected):
        ck = Checker("sluice.yaml")
        with pytest.raises(Invalid):
            cognito_section(str(tmp_path), ".")(ck, ("cognito",), value)
        assert any(str(p).startswith(expected) for p in ck.problems), ck.problems

    def test_iam(self):
        ck = Checker("sluice.yaml")
        settings = IAM_SECTION(ck, ("iam",), {"credentials": [
            {"accessKeyId": "AKIAEXAMPLE0000001", "secretAccessKey": "s3cr3t/key",
             "userArn": "arn:aws:iam::123456789012:user/alice"},
            {"accessKeyId": "AKIAEXAMPLE0000002", "secretAccessKey": "other",
             "userArn": "arn:aws:iam::123456789012:user/bob", "userId": "AIDABOB"}]})
        alice, bob = settings.credentials
        assert (alice.user_id, bob.user_id) == ("AKIAEXAMPLE0000001", "AIDABOB")
        assert "s3cr3t" not in repr(settings)

    def test_iam_problems_never_show_the_secret(self):
        ck = Checker("sluice.yaml")
        with pytest.raises(Invalid):
            IAM_SECTION(ck, ("iam",), {"credentials": [
                {"accessKeyId": "akia-lower", "secretAccessKey": "s3cr3t", "userArn": "alice"},
                {"accessKeyId": "AKIAEXAMPLE0000001", "secretAccessKey": 5,
                 "userArn": "arn:aws:iam::123456789012:user/a"},
                {"accessKeyId": "AKIAEXAMPLE0000001", "secretAccessKey": "s3cr3t",
                 "userArn": "arn:aws:iam::123456789012:user/b", "extra": 1}]})
        text = "\n".join(str(p) for p in ck.problems)
        assert "sluice.yaml: iam.credentials[0].accessKeyId: must be an access key id" in text
        assert "sluice.yaml: iam.credentials[0].userArn: must be an IAM ARN" in text
        assert "sluice.yaml: iam.credentials[1].secretAccessKey: must be a string" in text
        assert "sluice.yaml: iam.credentials[2].extra: unknown field" in text
        assert "s3cr3t" not in text

