"""AWS_PROXY, pure: the payload format 1.0 event (spec 8.3) and each response rule (spec 8.4)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from proxy.encoding import BinaryMediaTypes
from proxy.errors import ApiConfigurationError, IntegrationFailure
from proxy.integrations.lambda_proxy import IDENTITY_KEYS, build_event, parse_response

CONTEXT = {"accountId": "111111111111", "apiId": "abc123", "stage": "prod", "path": "/prod/x",
           "httpMethod": "GET", "requestId": "r-1", "protocol": "HTTP/1.1",
           "identity": {"sourceIp": "127.0.0.1", "userAgent": "curl/8"}}


def event(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "method": "GET", "resource": "/{proxy+}", "raw_path": "/x", "raw_headers": (),
        "raw_query": "", "path_params": None, "stage_variables": None, "body": None,
        "binary_media_types": (), "request_context": CONTEXT}
    args.update(kw)
    args["request_context"] = dict(args["request_context"])  # the event takes it over
    args["binary"] = BinaryMediaTypes(args.pop("binary_media_types"))
    result: dict[str, Any] = orjson.loads(build_event(**args))
    return result


def test_keys_in_aws_order_and_missing_collections_are_null() -> None:
    e = event()
    assert list(e) == ["resource", "path", "httpMethod", "headers", "multiValueHeaders",
                       "queryStringParameters", "multiValueQueryStringParameters",
                       "pathParameters", "stageVariables", "requestContext", "body",
                       "isBase64Encoded"]
    for key in ("headers", "multiValueHeaders", "queryStringParameters",
                "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body"):
        assert e[key] is None, key
    assert e["isBase64Encoded"] is False
    assert (e["resource"], e["path"], e["httpMethod"]) == ("/{proxy+}", "/x", "GET")


def test_header_case_kept_last_value_wins_all_values_in_multi() -> None:
    e = event(raw_headers=((b"tEsT-HEADeR", b"one"), (b"Accept", b"*/*"),
                           (b"tEsT-HEADeR", b"two"), (b"authorization", b"Bearer t"),
                           (b"Content-Length", b"0"), (b"Connection", b"keep-alive")))
    assert e["headers"] == {"tEsT-HEADeR": "two", "Accept": "*/*", "Authorization": "Bearer t"}
    assert e["multiValueHeaders"] == {"tEsT-HEADeR": ["one", "two"], "Accept": ["*/*"],
                                      "Authorization": ["Bearer t"]}


def test_gateway_added_headers_follow_the_clients() -> None:
    e = event(raw_headers=((b"Host", b"h"),),
              added_headers=(("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Proto", "http")))
    assert e["headers"] == {"Host": "h", "X-Forwarded-For": "127.0.0.1",
                            "X-Forwarded-Proto": "http"}
    assert e["multiValueHeaders"]["X-Forwarded-For"] == ["127.0.0.1"]


def test_gateway_added_headers_replace_the_clients_in_any_spelling() -> None:
    raw = ((b"x-forwarded-for", b"10.0.0.9"), (b"X-AMZN-TRACE-ID", b"forged"), (b"Host", b"h"))
    e = event(raw_headers=raw, added_headers=(
        ("X-Amzn-Trace-Id", "Root=1-a"), ("X-Forwarded-For", "10.0.0.9, 127.0.0.1")))
    assert e["headers"] == {"Host": "h", "X-Amzn-Trace-Id": "Root=1-a",
                            "X-Forwarded-For": "10.0.0.9, 127.0.0.1"}
    assert e["multiValueHeaders"] == {"Host": ["h"], "X-Amzn-Trace-Id": ["Root=1-a"],
                                      "X-Forwarded-For": ["10.0.0.9, 127.0.0.1"]}
    # without added headers (a REQUEST authorizer's event) the client's stay as sent
    assert event(raw_headers=raw)["headers"] == {"x-forwarded-for": "10.0.0.9",
                                                 "X-AMZN-TRACE-ID": "forged", "Host": "h"}


def test_query_last_value_wins_and_values_are_decoded() -> None:
    e = event(raw_query="a=1&b=x%20y&a=2&flag&c=1+2&&")
    assert e["queryStringParameters"] == {"a": "2", "b": "x y", "flag": "", "c": "1+2"}
    assert e["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "flag": [""],
                                                    "c": ["1+2"]}


def test_path_is_raw_with_its_trailing_slash_and_path_parameters_lose_it() -> None:
    e = event(raw_path="/proxy-value//double%20slash/",
              path_params={"proxy": "proxy-value//double%20slash/"})
    assert e["path"] == "/proxy-value//double%20slash/"
    assert e["pathParameters"] == {"proxy": "proxy-value//double%20slash"}


def test_stage_variables_and_request_context() -> None:
    e = event(stage_variables={"fn": "getPets"})
    assert e["stageVariables"] == {"fn": "getPets"}
    rc = e["requestContext"]
    assert rc["apiId"] == "abc123" and rc["path"] == "/prod/x"
    assert list(rc["identity"]) == list(IDENTITY_KEYS)
    assert rc["identity"]["sourceIp"] == "127.0.0.1" and rc["identity"]["caller"] is None
    assert "authorizer" not in rc


def test_authorizer_values_are_stringified_claims_kept() -> None:
    e = event(authorizer={"principalId": "user", "n": 1, "ok": True, "s": "x",
                          "integrationLatency": 12})
    assert e["requestContext"]["authorizer"] == {"principalId": "user", "n": "1", "ok": "true",
                                                 "s": "x", "integrationLatency": 12}
    e = event(authorizer={"claims": {"sub": "abc", "email_verified": True}})
    assert e["requestContext"]["authorizer"] == {"claims": {"sub": "abc",
                                                            "email_verified": True}}


def test_text_body() -> None:
    e = event(method="POST", raw_headers=((b"Content-Type", b"application/json"),),
              body=b'{"a": "\xc3\xa9"}', binary_media_types=("image/png",))
    assert (e["body"], e["isBase64Encoded"]) == ('{"a": "é"}', False)


@pytest.mark.parametrize(("content_type", "types", "binary"), [
    ("image/png", ("image/png",), True),
    ("IMAGE/PNG; x=1", ("image/png",), True),
    ("image/jpeg", ("image/*",), True),
    ("text/plain", ("*/*",), True),
    ("image/gif", ("image/png",), False),
    ("application/octet-stream", (), False),
])
def test_binary_body_by_binary_media_types(content_type: str, types: tuple[str, ...],
                                           binary: bool) -> None:
    data = bytes(range(256))
    e = event(method="POST", raw_headers=((b"content-type", content_type.encode()),),
              body=data, binary_media_types=types)
    assert e["isBase64Encoded"] is binary
    if binary:
        assert base64.b64decode(e["body"]) == data
    else:
        assert e["body"] == data.decode("utf-8", "replace")


# --- responses: spec 8.4, row by row ------------------------------------------------------


def parse(doc: Any, **kw: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    if "binary_media_types" in kw:
        kw["binary"] = BinaryMediaTypes(kw.pop("binary_media_types"))
    r = parse_response(orjson.dumps(doc) if not isinstance(doc, bytes) else doc, **kw)
    return r.status, r.headers, r.body


def test_status_only_is_an_empty_body() -> None:
    assert parse({"statusCode": 200}) == (200, [], b"")


def test_headers_without_status_is_200() -> None:
    assert parse({"headers": {"test-header": "value"}}) == (200, [("test-header", "value")], b"")


def test_string_status_is_accepted() -> None:
    assert parse({"statusCode": "201"})[0] == 201


@pytest.mark.parametrize("doc", [
    {"statusCode": "test"},
    {"statusCode": 200, "wrongValue": "v"},
    b"",
    "justAString",
    b"not json",
    [1, 2],
    {"statusCode": 200, "multiValueHeaders": {"a": "not-a-list"}},
    {"statusCode": True},
    {"statusCode": 1000},
    {"statusCode": 200, "headers": ["a"]},
    {"statusCode": 200, "headers": {"a": {"nested": 1}}},
    {"statusCode": 200, "body": {"a": 1}},
    {"statusCode": 200, "isBase64Encoded": "yes"},
    {"statusCode": 200, "cookies": ["a=b"]},
])
def test_malformed_results_are_502(doc: Any) -> None:
    with pytest.raises(IntegrationFailure) as info:
        parse(doc)
    assert info.value.response_type == "INTEGRATION_FAILURE"


def test_header_scalars_are_stringified() -> None:
    assert parse({"headers": {"b": True, "n": 3, "f": 1.5, "no": False}})[1] == [
        ("b", "true"), ("n", "3"), ("f", "1.5"), ("no", "false")]


def test_null_headers_are_accepted() -> None:
    assert parse({"statusCode": 204, "headers": None, "multiValueHeaders": None}) == (
        204, [], b"")


def test_multi_value_headers_are_joined() -> None:
    assert parse({"multiValueHeaders": {"test-multi": ["value1", "value2"]}})[1] == [
        ("test-multi", "value1, value2")]


def test_multi_and_single_are_merged_with_the_multi_spelling() -> None:
    assert parse({"headers": {"X-Both": "value-solo"},
                  "multiValueHeaders": {"x-BOTH": ["value-multi"]}})[1] == [
        ("x-BOTH", "value-multi, value-solo")]


def test_body_text() -> None:
    assert parse({"statusCode": 200, "body": "héllo"})[2] == "héllo".encode()


def test_base64_without_a_matching_binary_type_is_returned_as_text() -> None:
    text = base64.b64encode(b"\x00\x01").decode()
    assert parse({"body": text, "isBase64Encoded": True}, binary_media_types=("image/png",),
                 accept="text/html")[2] == text.encode()


def test_base64_with_a_matching_accept_is_decoded() -> None:
    data = bytes(range(256))
    text = base64.b64encode(data).decode()
    assert parse({"body": text, "isBase64Encoded": True}, binary_media_types=("image/png",),
                 accept="image/png, */*")[2] == data
    # only the first Accept type counts
    assert parse({"body": text, "isBase64Encoded": True}, binary_media_types=("image/png",),
                 accept="text/html, image/png")[2] == text.encode()


def test_base64_that_does_not_decode_is_500() -> None:
    with pytest.raises(ApiConfigurationError):
        parse({"body": "@@not base64@@", "isBase64Encoded": True},
              binary_media_types=("*/*",), accept="image/png")


def test_unpadded_base64_decodes_as_in_a_non_proxy_response() -> None:
    # the decoder of proxy.encoding (Java's: padding may be left off); b64decode refused it
    assert parse({"body": "AAE", "isBase64Encoded": True}, binary_media_types=("*/*",),
                 accept="image/png")[2] == b"\x00\x01"


def test_a_function_error_document_is_malformed() -> None:
    with pytest.raises(IntegrationFailure):
        parse({"errorMessage": "boom", "errorType": "ValueError", "requestId": "x",
               "stackTrace": []})


@pytest.mark.parametrize("doc", [
    {"statusCode": 200},
    {"headers": {"X-A": "1", "x-a": "2", "Content-Type": "text/plain"}},
    {"headers": {"x-amzn-RequestId": "forged", "Date": "then", "Connection": "close",
                 "content-length": "9", "X-Amzn-Trace-Id": "t", "Server": "kept"}},
    {"headers": {"content-type": None, "x": True}},
    {"multiValueHeaders": {"Content-Type": [], "x-amz-apigw-id": ["f"], "y": ["1", None, 2]},
     "headers": {"Y": "3"}},
    {"multiValueHeaders": {"content-TYPE": ["text/html"]}, "headers": {"Date": "d"}},
])
def test_headers_for_the_client_are_the_responders_second_pass_done_at_once(doc: Any) -> None:
    """``for_client`` folds proxy.respond.integration_headers into the parse: the same headers,
    gateway-owned names dropped and Content-Type defaulted only when none is left."""
    from proxy.respond import integration_headers

    raw = parse(doc)[1]
    assert parse(doc, for_client=True)[1] == integration_headers(raw, True)
