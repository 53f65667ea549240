"""The 21 AWS gateway response types: status, x-amzn-ErrorType and byte-exact default bodies
(spec 5.1), DEFAULT_4XX/5XX fallback and customisation."""

from __future__ import annotations

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request

from proxy.config import GATEWAY_RESPONSE_TYPES
from proxy.config.model import GatewayResponseDef
from proxy.context import RequestContext
from proxy.gateway_responses import TYPES, StageGatewayResponses

EXPECTED = {
    "ACCESS_DENIED": (403, "AccessDeniedException",
                      b'{"Message":"User is not authorized to access this resource"}'),
    "API_CONFIGURATION_ERROR": (500, "InternalServerErrorException",
                                b'{"message": "Internal server error"}'),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "AuthorizerConfigurationException",
                                       b'{"message": null}'),
    "AUTHORIZER_FAILURE": (500, "AuthorizerFailureException", b'{"message": null}'),
    "BAD_REQUEST_PARAMETERS": (400, "BadRequestException",
                               b'{"message":"Missing required request parameters"}'),
    "BAD_REQUEST_BODY": (400, "BadRequestException", b'{"message": "Invalid request body"}'),
    "DEFAULT_4XX": (400, None, b'{"message":null}'),
    "DEFAULT_5XX": (500, "InternalServerErrorException", b'{"message": "Internal server error"}'),
    "EXPIRED_TOKEN": (403, "ExpiredTokenException",
                      b'{"message":"The security token included in the request is expired"}'),
    "INTEGRATION_FAILURE": (502, "InternalServerErrorException",
                            b'{"message": "Internal server error"}'),
    "INTEGRATION_TIMEOUT": (504, "InternalServerErrorException",
                            b'{"message": "Endpoint request timed out"}'),
    "INVALID_API_KEY": (403, "ForbiddenException", b'{"message":"Forbidden"}'),
    "INVALID_SIGNATURE": (403, "InvalidSignatureException", None),
    "MISSING_AUTHENTICATION_TOKEN": (403, "MissingAuthenticationTokenException",
                                     b'{"message":"Missing Authentication Token"}'),
    "QUOTA_EXCEEDED": (429, "LimitExceededException", b'{"message":"Limit Exceeded"}'),
    "REQUEST_TOO_LARGE": (413, None, b"HTTP content length exceeded 10485760 bytes."),
    "RESOURCE_NOT_FOUND": (404, "NotFoundException", b'{"message":"Not Found"}'),
    "THROTTLED": (429, "TooManyRequestsException", b'{"message":"Too Many Requests"}'),
    "UNAUTHORIZED": (401, "UnauthorizedException", b'{"message":"Unauthorized"}'),
    "UNSUPPORTED_MEDIA_TYPE": (415, "UnsupportedMediaTypeException",
                               b'{"message":"Unsupported Media Type"}'),
    "WAF_FILTERED": (403, "ForbiddenException", b'{"message":"Forbidden"}'),
}


def ctx() -> RequestContext:
    c = RequestContext("11111111-2222-3333-4444-555555555555", "abcdefghijklmno=", 0.0, 1)
    c.stage = "prod"
    c.api_id = "api1"
    return c


def test_there_are_21_aws_types() -> None:
    # the types an API may customise (the config's list) each have their default here
    assert len(GATEWAY_RESPONSE_TYPES) == 21
    assert set(GATEWAY_RESPONSE_TYPES) == set(EXPECTED)
    assert set(GATEWAY_RESPONSE_TYPES) <= set(TYPES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_defaults(name: str) -> None:
    status, error_type, body = EXPECTED[name]
    r = StageGatewayResponses({}, {}).render(name, ctx())
    assert r.status == status
    assert dict(r.headers).get("x-amzn-ErrorType") == error_type
    if body is not None:
        assert r.body == body


def test_default_4xx_customisation_applies_to_uncustomised_4xx_only() -> None:
    responses = StageGatewayResponses({
        "DEFAULT_4XX": GatewayResponseDef("DEFAULT_4XX", 499, {
            "gatewayresponse.header.X-All": "'yes'"}, {}),
        "THROTTLED": GatewayResponseDef("THROTTLED", None, {}, {
            "application/json": '{"msg": $context.error.messageString}'}),
    }, {})
    forbidden = responses.render("INVALID_API_KEY", ctx())
    assert forbidden.status == 499
    assert ("X-All", "yes") in forbidden.headers
    assert forbidden.body == b'{"message":"Forbidden"}'
    throttled = responses.render("THROTTLED", ctx())
    assert throttled.status == 429  # its own definition has no status: the type's default
    assert ("X-All", "yes") not in throttled.headers
    assert orjson.loads(throttled.body) == {"msg": "Too Many Requests"}
    server = responses.render("INTEGRATION_TIMEOUT", ctx())
    assert server.status == 504 and ("X-All", "yes") not in server.headers


def test_request_too_large_is_not_customisable() -> None:
    responses = StageGatewayResponses({
        "DEFAULT_4XX": GatewayResponseDef("DEFAULT_4XX", 400, {}, {"application/json": "{}"}),
        "REQUEST_TOO_LARGE": GatewayResponseDef("REQUEST_TOO_LARGE", 400, {}, {}),
    }, {})
    r = responses.render("REQUEST_TOO_LARGE", ctx())
    assert (r.status, r.body, r.content_type) == (
        413, b"HTTP content length exceeded 10485760 bytes.", "text/plain")


def test_header_sources_and_template_variables() -> None:
    responses = StageGatewayResponses({
        "UNAUTHORIZED": GatewayResponseDef("UNAUTHORIZED", None, {
            "gatewayresponse.header.A": "method.request.header.x-h",
            "gatewayresponse.header.B": "method.request.querystring.q",
            "gatewayresponse.header.C": "stageVariables.v",
            "gatewayresponse.header.D": "context.requestId",
            "gatewayresponse.header.E": "method.request.header.absent",
        }, {"application/json": '{"m":"$context.error.message","t":"${context.error.responseType}",'
                                '"s":"$stageVariables.v","a":"$context.apiId"}'}),
    }, {"v": "stagevalue"})
    state = ctx()
    # aiohttp's own request object, built without a socket: the render reads its headers/query
    state.request = make_mocked_request("GET", "/prod/x?q=qv", headers={"x-h": "hv"})
    r = responses.render("UNAUTHORIZED", state)
    headers = dict(r.headers)
    assert headers["A"] == "hv" and headers["B"] == "qv" and headers["C"] == "stagevalue"
    assert headers["D"] == "11111111-2222-3333-4444-555555555555"
    assert "E" not in headers
    assert orjson.loads(r.body) == {"m": "Unauthorized", "t": "UNAUTHORIZED", "s": "stagevalue",
                                    "a": "api1"}


def test_sources_without_a_request_and_unknown_variables() -> None:
    responses = StageGatewayResponses({
        "DEFAULT_5XX": GatewayResponseDef("DEFAULT_5XX", None, {
            "gatewayresponse.header.A": "method.request.header.x-h",
            "gatewayresponse.header.B": "method.request.path.id",
            "gatewayresponse.header.C": "'lit'",
            "gatewayresponse.header.D": "context.error.messageString",
            "gatewayresponse.header.E": "integration.response.header.x",  # not a source here
        }, {"text/plain": "$context.nosuch|$stageVariables.none|${context.error.message}"}),
    }, {})
    # an answer given before the request is on the state (ctx.request None)
    r = responses.render("INTEGRATION_FAILURE", ctx(), "boom")
    assert r.headers == (("x-amzn-ErrorType", "InternalServerErrorException"), ("C", "lit"),
                         ("D", '"boom"'))
    assert (r.status, r.content_type, r.body) == (502, "text/plain", b"||boom")


def test_header_helpers() -> None:
    from proxy.headers import forwardable, remap_response

    assert forwardable([(b"Host", b"h"), (b"X-A", b"1"), (b"Transfer-Encoding", b"chunked"),
                        (b"x-forwarded-for", b"1.2.3.4"), (b"Expect", b"100-continue"),
                        (b"Keep-Alive", b"5"), (b"Cookie", b"c")]) == [("X-A", "1"),
                                                                      ("Cookie", "c")]
    # no Content-Type from the backend: application/json is added, as AWS does
    assert remap_response([("Date", "d"), ("Transfer-Encoding", "chunked"), ("ETag", "e"),
                           ("connection", "close"), ("Keep-Alive", "timeout=5")]) == [
        ("x-amzn-Remapped-Date", "d"), ("ETag", "e"), ("x-amzn-Remapped-Connection", "close"),
        ("Content-Type", "application/json")]
    # the backend's own Content-Type is kept, once; ids the gateway sets itself are dropped
    assert remap_response([("content-type", "text/plain"), ("X-Amz-Apigw-Id", "x"),
                           ("X-Amzn-Trace-Id", "Root=1-0-0"), ("Server", "s"),
                           ("x-amzn-RequestId", "b")]) == [
        ("content-type", "text/plain"), ("x-amzn-Remapped-Server", "s"),
        ("x-amzn-Remapped-x-amzn-RequestId", "b")]


def test_request_ids_come_from_one_cut_and_keep_a_client_uuid() -> None:
    import base64
    import re
    import uuid

    from proxy.headers import request_ids

    seen: set[str] = set()
    for _ in range(500):
        rid, apigw, trace = request_ids(None, 0x6B028A73)
        parsed = uuid.UUID(rid)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == rid
        assert len(apigw) == 16 and apigw.endswith("=") and len(base64.b64decode(apigw)) == 11
        assert base64.b64encode(base64.b64decode(apigw)).decode() == apigw  # canonical
        assert re.fullmatch(r"Root=1-6b028a73-[0-9a-f]{24}", trace)
        seen.update((rid, apigw, trace))
    assert len(seen) == 1500  # no id of any of the three kinds repeats
    # past the end of the pre-formatted buffers: refilled, still well-formed and unrepeated
    for _ in range(5000):
        rid, apigw, trace = request_ids(None, 0)
        assert uuid.UUID(rid).version == 4 and len(base64.b64decode(apigw)) == 11
        seen.update((rid, apigw, trace))
    assert len(seen) == 16500
    client = "C6AF9AC6-7B61-11E6-9A41-93E8DEADBEEF"
    assert request_ids(client, 0)[0] == client.lower()
    assert request_ids("not-a-uuid-but-thirty-six-characters", 0)[0] != (
        "not-a-uuid-but-thirty-six-characters")


def test_a_forked_worker_does_not_repeat_its_parents_ids() -> None:
    import os

    from proxy.headers import request_ids

    request_ids(None, 0)  # the parent's buffers are filled
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out without running the parent's teardown
        os.write(write_end, "|".join(request_ids(None, 0)).encode())
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 1000).decode().split("|")
    os.waitpid(pid, 0)
    mine = request_ids(None, 0)
    assert len(child) == 3
    assert not set(child) & set(mine)


def test_request_ids_are_uuid4_and_client_uuids_kept() -> None:
    import uuid

    from proxy.headers import request_ids

    seen = set()
    for _ in range(2000):
        rid = request_ids(None, 0)[0]
        parsed = uuid.UUID(rid)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == rid
        seen.add(rid)
    assert len(seen) == 2000
    mine = "0b5d1a0e-4c2f-4d6a-9a0b-1c2d3e4f5a6b"
    assert request_ids(mine, 0)[0] == mine
    assert request_ids("0B5D1A0E-4C2F-4D6A-9A0B-1C2D3E4F5A6B", 0)[0] == mine
    assert request_ids("not-a-uuid", 0)[0] != "not-a-uuid"
