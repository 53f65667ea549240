"""Lambda authorizers without the function: identity sources, events, outputs, errors, cache."""

from __future__ import annotations

import re

import orjson
import pytest
from multidict import CIMultiDict, MultiDict

from proxy.auth.arn import api_arn, method_arn
from proxy.auth.lambda_authorizer import (
    LambdaAuthorizer,
    ResultCache,
    function_error,
    parse_identity_sources,
    parse_output,
    request_event,
    token_event,
)
from proxy.auth.policy import ALLOW, DENY, NO_DECISION
from proxy.encoding import BinaryMediaTypes
from proxy.errors import AuthorizerConfigurationError, Unauthorized
from proxy.integrations.lambda_proxy import build_event, request_maps

PREFIX = api_arn("us-east-1", "123456789012", "a1b2c3")
GET = method_arn(PREFIX, "prod", "GET", "/pets")
POST = method_arn(PREFIX, "prod", "POST", "/pets")


def output(effect="Allow", resource=f"{PREFIX}/*/GET/*", **extra):
    return {"principalId": "user-1", "policyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
        **extra}


class TestIdentitySources:
    def test_parse(self):
        sources = parse_identity_sources(
            "method.request.header.Auth, method.request.querystring.q,stageVariables.v, "
            "context.identity.sourceIp")
        assert [(s.kind, s.name) for s in sources] == [
            ("header", "Auth"), ("querystring", "q"), ("stageVariables", "v"),
            ("context", "identity.sourceIp")]
        assert str(sources[0]) == "method.request.header.Auth"

    @pytest.mark.parametrize("text", ["method.request.path.id", "header.Auth", "", "a,,b"])
    def test_rejects(self, text):
        with pytest.raises(ValueError, match="is not an identity source"):
            parse_identity_sources(text)


class TestToken:
    authorizer = LambdaAuthorizer("TOKEN", parse_identity_sources("method.request.header.X-Token"),
                                  validation=re.compile(r"Bearer [a-z0-9]+"))

    def test_token_from_its_header_any_case(self):
        assert self.authorizer.token(CIMultiDict({"x-token": "Bearer abc1"})) == "Bearer abc1"

    @pytest.mark.parametrize("headers", [
        {}, {"X-Token": ""}, {"X-Token": "Bearer ABC"}, {"X-Token": "Bearer abc!"},
        {"X-Token": "xBearer abc"},  # the expression must match the whole token
        {"Authorization": "Bearer abc"},  # not the configured header
    ])
    def test_missing_or_invalid_token_is_401_without_a_call(self, headers):
        with pytest.raises(Unauthorized) as info:
            self.authorizer.token(CIMultiDict(headers))
        assert info.value.response_type == "UNAUTHORIZED"

    def test_default_header_is_authorization(self):
        authorizer = LambdaAuthorizer("TOKEN", ())
        assert authorizer.token(CIMultiDict(Authorization="t")) == "t"

    def test_event(self):
        assert token_event("abc", GET) == {"type": "TOKEN", "authorizationToken": "abc",
                                           "methodArn": GET}


class TestRequest:
    sources = parse_identity_sources("method.request.header.X-User, method.request.querystring.k, "
                                     "stageVariables.tier, context.identity.sourceIp")

    def identity(self, authorizer, headers=None, query=None, stage=None, ip="10.0.0.1"):
        # each source read as the authorizer's compiled getters read it (one per source)
        read = {"header": CIMultiDict(headers or {}).get, "querystring": MultiDict(query or {}).get,
                "stageVariables": (stage or {}).get, "context": {"identity.sourceIp": ip}.get}
        return authorizer.request_identity(read[s.kind](s.name) for s in self.sources)

    def test_every_source_makes_the_key(self):
        authorizer = LambdaAuthorizer("REQUEST", self.sources)
        key = self.identity(authorizer, {"x-user": "u"}, {"k": "1"}, {"tier": "gold"})
        assert key == ("u", "1", "gold", "10.0.0.1")
        assert key != self.identity(authorizer, {"x-user": "u"}, {"k": "2"}, {"tier": "gold"})

    @pytest.mark.parametrize("missing", ["header", "query", "stage", "context"])
    def test_a_missing_source_is_401_when_caching(self, missing):
        authorizer = LambdaAuthorizer("REQUEST", self.sources, ttl_seconds=300)
        args = {"headers": {"X-User": "u"}, "query": {"k": "1"}, "stage": {"tier": "g"},
                "ip": "10.0.0.1"}
        args[{"header": "headers", "query": "query", "stage": "stage", "context": "ip"}[
            missing]] = {} if missing != "context" else None
        with pytest.raises(Unauthorized):
            self.identity(authorizer, **args)

    def test_sources_compile_to_getters_of_the_request(self):
        from aiohttp.test_utils import make_mocked_request

        from proxy.authorizers.custom import _source_getter
        from proxy.context import RequestContext

        ctx = RequestContext("req-1", "ext=", 0.0, 1)
        ctx.request = make_mocked_request("GET", "/prod/x?k=1", headers={"x-user": "u"})
        ctx.source_ip = "10.0.0.1"
        sources = (*self.sources, *parse_identity_sources("context.nosuch"))
        getters = [_source_getter(s, {"tier": "gold"}) for s in sources]
        assert [get(ctx) for get in getters] == ["u", "1", "gold", "10.0.0.1", None]
        authorizer = LambdaAuthorizer("REQUEST", sources)
        with pytest.raises(Unauthorized):  # an unknown $context variable is never there
            authorizer.request_identity(get(ctx) for get in getters)

    def test_no_check_and_no_key_without_caching(self):
        authorizer = LambdaAuthorizer("REQUEST", self.sources, ttl_seconds=0)
        assert self.identity(authorizer) is None

    def test_event_shape(self):
        headers = ((b"Accept", b"*/*"), (b"X-Multi", b"a"), (b"x-multi", b"b"))
        event = request_event(
            method_arn=GET, resource="/pets/{id}", path="/pets/1", http_method="GET",
            maps=request_maps(headers, "q=1&q=2", {"id": "1"}), stage_variables={},
            request_context={"accountId": "123456789012", "stage": "prod"})
        assert list(event) == [
            "type", "methodArn", "resource", "path", "httpMethod", "headers",
            "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters",
            "pathParameters", "stageVariables", "requestContext"]
        assert event["type"] == "REQUEST"
        assert event["headers"] == {"Accept": "*/*", "X-Multi": "b"}
        assert event["multiValueHeaders"] == {"Accept": ["*/*"], "X-Multi": ["a", "b"]}
        assert event["queryStringParameters"] == {"q": "2"}
        assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
        assert event["pathParameters"] == {"id": "1"} and event["stageVariables"] == {}
        orjson.dumps(event)  # JSON as it goes to the function


    def test_maps_are_the_proxy_events(self):
        # they were rebuilt from aiohttp's parsed maps: "+" read as a space, Content-Length
        # and Connection kept, "authorization" as sent, a greedy parameter's "/" kept
        headers = ((b"authorization", b"t"), (b"Content-Length", b"0"),
                   (b"Connection", b"keep-alive"), (b"X-A", b"1"), (b"X-A", b"2"))
        query = "a=b+c&a=%2B&d"
        params = {"proxy": "x/y/"}
        event = request_event(
            method_arn=GET, resource="/{proxy+}", path="/x/y/", http_method="GET",
            maps=request_maps(headers, query, params), stage_variables={},
            request_context={})
        proxy = orjson.loads(build_event(
            method="GET", resource="/{proxy+}", raw_path="/x/y/", raw_headers=headers,
            raw_query=query, path_params=params, stage_variables=None, body=None,
            binary=BinaryMediaTypes(()), request_context={}))
        for key in ("headers", "multiValueHeaders", "queryStringParameters",
                    "multiValueQueryStringParameters", "pathParameters"):
            assert event[key] == proxy[key], key
        assert event["queryStringParameters"] == {"a": "+", "d": ""}
        assert event["multiValueQueryStringParameters"]["a"] == ["b+c", "+"]
        assert event["headers"] == {"Authorization": "t", "X-A": "2"}
        assert event["pathParameters"] == {"proxy": "x/y"}


class TestOutput:
    def test_valid_output(self):
        result = parse_output(orjson.dumps(output(
            context={"s": "x", "n": 1, "f": 1.5, "t": True, "no": False},
            usageIdentifierKey="key-123456789012345678")))
        assert result.principal_id == "user-1"
        assert dict(result.context) == {"s": "x", "n": "1", "f": "1.5", "t": "true",
                                        "no": "false"}
        assert result.usage_identifier_key == "key-123456789012345678"
        assert result.policy.evaluate(GET) == ALLOW
        assert result.policy.evaluate(POST) == NO_DECISION

    def test_deny_policy(self):
        assert parse_output(output("Deny", "*")).policy.evaluate(GET) == DENY

    @pytest.mark.parametrize("bad", [
        b"not json", [], {"policyDocument": output()["policyDocument"]},
        {"principalId": None, "policyDocument": output()["policyDocument"]},
        {"principalId": "u"},
        output(policyDocument={"Statement": [{"Effect": "Maybe"}]}),
        output(context={"nested": {"a": 1}}),
        output(context={"list": [1]}),
        output(context={"null": None}),
        output(context=["a"]),
        output(usageIdentifierKey=5),
    ])
    def test_malformed_output_is_a_configuration_error(self, bad):
        with pytest.raises(AuthorizerConfigurationError) as info:
            parse_output(bad)
        assert info.value.response_type == "AUTHORIZER_CONFIGURATION_ERROR"
        assert info.value.message is None  # the body is {"message": null}

    @pytest.mark.parametrize(("error", "kind"), [
        ({"errorMessage": "Unauthorized", "errorType": "Exception"}, "UNAUTHORIZED"),
        ("Unauthorized", "UNAUTHORIZED"),
        ({"errorMessage": "unauthorized"}, "AUTHORIZER_CONFIGURATION_ERROR"),
        ({"errorMessage": "Unauthorized: expired"}, "AUTHORIZER_CONFIGURATION_ERROR"),
        ({"errorMessage": "boom", "errorType": "KeyError"}, "AUTHORIZER_CONFIGURATION_ERROR"),
        (None, "AUTHORIZER_CONFIGURATION_ERROR"),  # timeout or crash
    ])
    def test_function_errors(self, error, kind):
        assert function_error(error).response_type == kind


class TestCache:
    def test_hit_until_the_ttl_then_miss(self):
        now = [1000.0]
        cache = ResultCache(300, clock=lambda: now[0])
        result = parse_output(output())
        cache.put("token-a", result)
        assert cache.get("token-a") is result
        now[0] += 299.9
        assert cache.get("token-a") is result
        now[0] += 0.1
        assert cache.get("token-a") is None
        assert len(cache) == 0

    def test_cached_policy_is_evaluated_per_method_arn(self):
        cache = ResultCache(300, clock=lambda: 0.0)
        cache.put("t", parse_output(output(resource=f"{PREFIX}/*/GET/*")))
        hit = cache.get("t")
        assert hit is not None
        assert hit.policy.evaluate(GET) == ALLOW
        assert hit.policy.evaluate(POST) == NO_DECISION  # the same token, another method

    def test_bounded_oldest_first(self):
        cache = ResultCache(300, max_entries=3, clock=lambda: 0.0)
        result = parse_output(output())
        for key in ("a", "b", "c", "d"):
            cache.put(key, result)
        assert len(cache) == 3
        assert cache.get("a") is None and cache.get("d") is result

    def test_ttl_zero_caches_nothing_and_clear_empties(self):
        off = ResultCache(0, clock=lambda: 0.0)
        off.put("a", parse_output(output()))
        assert off.get("a") is None
        on = ResultCache(60, clock=lambda: 0.0)
        on.put(("u", "1"), parse_output(output()))
        on.clear()
        assert on.get(("u", "1")) is None
