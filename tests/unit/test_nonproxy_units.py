"""The pure parts of issue 16's integrations: $context as a template reads it, overrides
carried across renders, MOCK's statusCode, Lambda's errorMessage, bodies as mapping sources,
integration response selection and template choice, headers safe for the wire, cachingEnabled
per method, and what the loader says about templates, contentHandling and validators."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.config._check import Checker
from proxy.config.model import Config, IntegrationResponse, MethodSettings, StageConfig
from proxy.config.openapi import read_definition
from proxy.context import ContextView, RequestContext
from proxy.deployment import caching_enabled
from proxy.errors import ApiConfigurationError
from proxy.headers import RESERVED_MAPPED_AWS, header_safe, reserved_header_mapping
from proxy.integrations.aws_lambda import error_message
from proxy.integrations.base import MethodScope
from proxy.integrations.mapped_body import BodyDoc, compile_body_source
from proxy.integrations.mock import status_code
from proxy.integrations.responses import IntegrationResponses
from proxy.runtime import offline_services
from proxy.vtl import Inputs, Overrides, compile_template


def _ctx() -> RequestContext:
    ctx = RequestContext("rid-1", "apigw=", 0.0, 1_700_000_000_123)
    ctx.source_ip = "203.0.113.7"
    ctx.stage = "prod"
    ctx.http_method = "POST"
    ctx.domain_name = "abc.execute-api.local"
    return ctx


def test_context_view_reads_the_table_nested_and_typed() -> None:
    view = ContextView(_ctx())
    assert view["requestId"] == "rid-1"
    assert view["identity"]["sourceIp"] == "203.0.113.7"
    assert view["requestTimeEpoch"] == 1_700_000_000_123  # a number, not text
    assert view["domainPrefix"] == "abc"
    assert view["status"] is None and view["identity"]["userAgent"] is None
    assert set(view["error"]) == {"message", "messageString", "responseType",
                                  "validationErrorString"}
    with pytest.raises(KeyError):
        view["nope"]
    template = compile_template(
        "$context.identity.sourceIp|$context.stage|#set($t = $context.requestTimeEpoch + 1)$t"
        "|$context.identity.apiKey|$context.requestTime")
    text = template.render(Inputs(context=view)).text
    assert text == "203.0.113.7|prod|1700000000124||14/Nov/2023:22:13:20 +0000"


def test_overrides_carry_from_the_request_template_to_the_response_template() -> None:
    carry = Overrides()
    request = compile_template(
        "#set($context.requestOverride.header.X = 'a')"
        "#set($context.responseOverride.status = 201)"
        "#set($context.responseOverride.custom = 'kept')")
    first = request.render(Inputs(overrides=carry))
    assert first.request_override["header"] == {"X": "a"}
    assert first.response_override == {"header": {}, "status": 201}
    response = compile_template(
        "$context.responseOverride.custom/$context.requestOverride.header.X"
        "#set($context.responseOverride.header.H = 'h')")
    second = response.render(Inputs(overrides=carry))
    assert second.text == "kept/a"
    assert second.response_override == {"header": {"H": "h"}, "status": 201}
    # without a carrier each render starts empty
    assert response.render(Inputs()).text == "/"
    # render_text: the same text, the overrides kept in the caller's carrier
    kept = Overrides()
    assert request.render_text("", Inputs(), {}, {}, kept) == ""
    assert response.render_text("", Inputs(), {}, {}, kept) == "kept/a"
    assert kept.response is not None and kept.response["header"] == {"H": "h"}


@pytest.mark.parametrize(("payload", "code"), [
    (b'{"statusCode": 200}', 200),
    (b'{"statusCode": 404, "x": [1]}', 404),
    (b"{statusCode: 200}", 200),  # CDK's CORS template: accepted by AWS (recorded)
    (b"{ 'statusCode' : 201 , a: 1}", 201),
    (b'{"statusCode": "200"}', None),
    (b'{"statusCode": true}', None),
    (b'{"statusCode": 2.5}', None),
    (b'{"a": {"statusCode": 200}}', None),
    (b"[200]", None),
    (b"", None),
    (b"statusCode: 200", None),
])
def test_mock_status_code(payload: bytes, code: int | None) -> None:
    assert status_code(payload) == code


def test_lambda_error_message() -> None:
    assert error_message(b'{"errorMessage": "boom", "errorType": "E"}') == "boom"
    assert error_message(b'{"errorType": "E"}') == ""
    assert error_message(b'"text"') == ""
    assert error_message(b"not json") == ""
    assert error_message(b'{"errorMessage": 3}') == ""


def test_body_as_a_mapping_source() -> None:
    doc = BodyDoc(b'{"a": {"b": "x", "n": 1.5, "l": [1, {"k": null}]}}')
    whole = compile_body_source("")
    path = compile_body_source("a.b")
    assert whole is not None and path is not None
    assert whole(doc) == doc.data.decode()
    assert path(doc) == "x"
    assert compile_body_source("a.n")(doc) == "1.5"  # type: ignore[misc]
    assert compile_body_source("a.l")(doc) == '[1,{"k":null}]'  # type: ignore[misc]
    assert compile_body_source("a.missing")(doc) is None  # type: ignore[misc]
    assert path(BodyDoc(b"not json")) is None
    assert path(BodyDoc(b"")) is None
    assert compile_body_source("a[?(@.x)]") is None  # filters: not a path this reads


def _responses(*entries: IntegrationResponse) -> IntegrationResponses:
    scope = MethodScope("api", {}, "/r", offline_services(Config("t")))
    return IntegrationResponses(entries, scope, "HTTP")


def test_selection_is_a_whole_match_in_definition_order_then_default() -> None:
    responses = _responses(
        IntegrationResponse("4\\d{2}", 400), IntegrationResponse("404", 410),
        IntegrationResponse(None, 200), IntegrationResponse(".*timed out.*", 504))
    assert responses.select("404").status == 400  # the first that matches
    assert responses.select("4040").status == 200  # a whole match only
    assert responses.select("RequestId: x Error: Task timed out after 3.00 seconds").status \
        == 504
    assert responses.select("").status == 200
    with pytest.raises(ApiConfigurationError):
        _responses(IntegrationResponse("2\\d{2}", 200)).select("500")


def test_response_template_by_accept() -> None:
    entry = _responses(IntegrationResponse(None, 200, response_templates={
        "text/html": "h", "application/json": "j", "Application/XML; q=1": "x"}))
    chosen = entry.select("200")
    assert chosen.template_for("text/html")[0] == "text/html"  # type: ignore[index]
    assert chosen.template_for("image/png, application/xml")[0] == "Application/XML; q=1"  # type: ignore[index]
    assert chosen.template_for(None)[0] == "application/json"  # type: ignore[index]
    assert chosen.template_for("image/png")[0] == "application/json"  # type: ignore[index]
    first = _responses(IntegrationResponse(None, 200, response_templates={
        "text/html": "h", "text/plain": "p"})).select("1")
    assert first.template_for("image/png")[0] == "text/html"  # type: ignore[index]
    assert _responses(IntegrationResponse(None, 200)).select("1").template_for("x/y") is None


def test_response_parameter_sources() -> None:
    entry = _responses(IntegrationResponse(None, 200, response_parameters={
        "method.response.header.A": "'lit'",
        "method.response.header.B": "method.request.header.X",  # AWS maps none: not compiled
        "method.response.header.C": "context.noSuchVariable",
        "method.response.header.D": "stageVariables.v",
        "method.response.header.E": "integration.response.header.Y"})).select("200")
    assert [name for name, _ in entry.params] == ["A", "D", "E"]
    assert entry.params[0][1](None, None) == "lit"  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "value", "ok"), [
    ("X-A", "v a l", True), ("X-A", "caf\u00e9", True), ("X-A", "", True),
    ("X-A", "a\r\nX-B: 1", False), ("X-A", "a\nb", False), ("X-A", "\x00", False),
    ("X A", "v", False), ("", "v", False), ("X:A", "v", False), ("X-A", "\u20ac", False),
])
def test_header_safe(name: str, value: str, ok: bool) -> None:
    assert header_safe(name, value) is ok


def test_reserved_header_mappings() -> None:
    assert reserved_header_mapping({"integration.request.header.content-length": "'0'"})
    assert not reserved_header_mapping({"integration.request.header.Authorization": "'x'"})
    assert reserved_header_mapping({"integration.request.header.Authorization": "'x'"},
                                   RESERVED_MAPPED_AWS)
    assert reserved_header_mapping({"integration.request.multivalueheader.TE": "'x'"},
                                   RESERVED_MAPPED_AWS)
    assert not reserved_header_mapping({"integration.request.querystring.Content-Length": "'0'"})


def test_caching_enabled_per_method() -> None:
    stage = StageConfig("prod", method_settings={
        "*/*": MethodSettings(caching_enabled=True),
        "pets/POST": MethodSettings(caching_enabled=True),
        "pets/PUT": MethodSettings(throttling_rate_limit=1.0),
        "~1/DELETE": MethodSettings(caching_enabled=True),
    })
    stage_wide = MethodSettings(caching_enabled=True)
    assert caching_enabled(stage, "/pets", "GET", stage_wide) is True
    assert caching_enabled(stage, "/pets", "ANY", stage_wide) is True
    assert caching_enabled(stage, "/pets", "POST", stage_wide) is True  # its own setting
    assert caching_enabled(stage, "/pets", "PUT", stage_wide) is None  # "*/*" is GET's
    assert caching_enabled(stage, "/other", "PATCH", stage_wide) is None
    assert caching_enabled(stage, "/", "DELETE", stage_wide) is True


def _definition(integration: dict[str, Any], **root: Any) -> tuple[Any, list[str]]:
    doc = {"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
           "paths": {"/x": {"post": {"x-amazon-apigateway-integration": integration,
                                     "requestBody": {"content": {"application/json": {
                                         "schema": {"$ref": "#/components/schemas/M"}}}}}}},
           "components": {"schemas": {"M": {"type": "object", "properties": {
               "a": {"type": "string"}}, "required": ["a"]}}},
           **root}
    ck = Checker("api.yaml")
    try:
        return read_definition(ck, doc), []
    except Exception:
        return None, [f"{p.path}: {p.message}" for p in ck.problems]


def test_templates_are_compiled_at_load_with_their_field_path() -> None:
    _, problems = _definition({"type": "mock", "requestTemplates": {
        "application/json": '{"statusCode": 200}\n#if($x'}})
    assert len(problems) == 1
    assert problems[0] == (
        'paths."/x".post.x-amazon-apigateway-integration.requestTemplates."application/json": '
        "is not a valid mapping template: line 2, column 7: expected ) to close #if")
    _, problems = _definition({"type": "mock", "responses": {"default": {
        "statusCode": "200", "responseTemplates": {"text/html": "#end"}}}})
    assert "responseTemplates" in problems[0] and "line 1, column 1" in problems[0]


def test_content_handling_and_validation_reach_the_model() -> None:
    definition, problems = _definition(
        {"type": "mock", "contentHandling": "convert_to_text",
         "responses": {"default": {"statusCode": "200", "contentHandling": "CONVERT_TO_BINARY"}}},
        **{"x-amazon-apigateway-request-validators": {"b": {"validateRequestBody": True}},
           "x-amazon-apigateway-request-validator": "b"})
    assert problems == []
    method = definition.resources[0].methods["POST"]
    assert method.integration.content_handling == "CONVERT_TO_TEXT"
    assert method.integration.responses[0].content_handling == "CONVERT_TO_BINARY"
    assert method.validation is not None
    assert method.validation.validator is not None
    assert method.validation.validator.validate_request_body
    assert method.validation.request_models == {"application/json": "M"}
    _, problems = _definition({"type": "mock"},
                              **{"x-amazon-apigateway-request-validator": "missing"})
    assert any("x-amazon-apigateway-request-validator" in p and "missing" in p
               for p in problems)
