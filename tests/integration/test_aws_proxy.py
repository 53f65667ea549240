"""AWS_PROXY through the real gateway to real function processes (awslambdaric): the event as
the function sees it, the response rules, binary bodies, function errors, crashes, init
errors, timeouts with the instance replaced, warm reuse, reserved concurrency, a function named
by a stage variable, an ``endpoint`` function behind a small Invoke API server, and no process
left after SIGTERM."""

from __future__ import annotations

import asyncio
import base64
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web

from tests.support.gateway import GatewayProcess, RunningGateway, run_gateway, serve_app
from tests.support.processes import alive, descendants

APP = '''
import base64, json, os, sys, time
CALLS = 0

def echo(event, context):
    global CALLS
    CALLS += 1
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "calls": CALLS, "pid": os.getpid(),
                                "function": context.function_name,
                                "memory": context.memory_limit_in_mb,
                                "arn": context.invoked_function_arn,
                                "request_id": context.aws_request_id,
                                "remaining": context.get_remaining_time_in_millis(),
                                "table": os.environ.get("TABLE"),
                                "region": os.environ.get("AWS_REGION")})}

def respond(event, context):
    # answers what the request body says, to exercise the response rules
    return json.loads(event["body"])

def boom(event, context):
    raise ValueError("bad thing")

def crash(event, context):
    sys.stdout.flush()
    os._exit(3)

def slow(event, context):
    time.sleep(float((event["queryStringParameters"] or {}).get("s", "0")))
    return {"statusCode": 200, "body": "slept " + str(os.getpid())}

def count(event, context):
    d = (event["queryStringParameters"] or {})["dir"]
    mine = os.path.join(d, str(os.getpid()))
    open(mine, "w").close()
    seen = len(os.listdir(d))
    time.sleep(0.05)
    os.remove(mine)
    return {"statusCode": 200, "body": str(seen)}

def image(event, context):
    return {"statusCode": 200, "headers": {"content-type": "image/png"},
            "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
'''

BROKEN = '''
raise RuntimeError("cannot start")
def handler(event, context):
    return {}
'''


def _route(fn: str, method: str = "post", http_method: str = "POST") -> dict[str, Any]:
    return {method: {"x-amazon-apigateway-integration": {
        "type": "aws_proxy", "httpMethod": http_method,
        "uri": ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                f"arn:aws:lambda:us-east-1:123456789012:function:{fn}/invocations")}}}


def _config(tmp_path: Path, endpoint: str | None = None) -> Path:
    code = tmp_path / "fn"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(APP)
    (code / "broken.py").write_text(BROKEN)
    any_echo = _route("echo", "x-amazon-apigateway-any-method")
    any_echo["x-amazon-apigateway-any-method"]["parameters"] = [
        {"name": "proxy", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths = {
        "/echo/{proxy+}": any_echo,
        "/respond": _route("respond"),
        "/boom": _route("boom", "get"),
        "/crash": _route("crash", "get"),
        "/slow": _route("slow", "get"),
        "/count": _route("count", "get"),
        "/image": _route("image", "get"),
        "/broken": _route("broken", "get"),
        "/getmethod": _route("echo", "get", http_method="GET"),
        "/byvar": _route("${stageVariables.fn}", "get"),
        "/missing": _route("${stageVariables.nofn}", "get"),
    }
    functions: dict[str, Any] = {
        "echo": {"handler": "app.echo", "codeUri": "fn", "environment": {"TABLE": "pets"},
                 "memorySize": 256},
        "respond": {"handler": "app.respond", "codeUri": "fn"},
        "boom": {"handler": "app.boom", "codeUri": "fn"},
        "crash": {"handler": "app.crash", "codeUri": "fn"},
        "slow": {"handler": "app.slow", "codeUri": "fn", "timeout": 1},
        "count": {"handler": "app.count", "codeUri": "fn", "reservedConcurrency": 3},
        "image": {"handler": "app.image", "codeUri": "fn"},
        "broken": {"handler": "broken.handler", "codeUri": "fn"},
    }
    if endpoint is not None:
        paths["/remote"] = _route("remote", "get")
        functions["remote"] = {"endpoint": endpoint}
    (tmp_path / "api.yaml").write_text(yaml.safe_dump({
        "openapi": "3.0.1", "info": {"title": "lambda", "version": "1"}, "paths": paths,
        "x-amazon-apigateway-binary-media-types": ["image/png"]}))
    config = tmp_path / "sluice.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0"},
        "apis": [{"id": "lam", "definition": "api.yaml",
                  "stages": {"prod": {"variables": {"fn": "echo", "nofn": "nothere"}}}}],
        "functions": functions}))
    return config


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    async with run_gateway(_config(tmp_path)) as running:
        yield running


async def _call(gw: RunningGateway, method: str, path: str, **kw: Any
                ) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as client, client.request(
            method, f"{gw.url}{path}", **kw) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_the_event_the_function_sees(gw: RunningGateway) -> None:
    status, headers, body = await _call(
        gw, "POST", "/prod/echo/a/b/?x=1&x=2&y=%20z", data=b'{"k": 1}',
        headers={"tEsT-HEADeR": "aValUE", "content-type": "application/json"})
    assert status == 200
    doc = orjson.loads(body)
    event = doc["event"]
    assert event["resource"] == "/echo/{proxy+}"
    assert event["path"] == "/echo/a/b/"  # trailing slash kept in path ...
    assert event["pathParameters"] == {"proxy": "a/b"}  # ... and stripped from the parameter
    assert event["httpMethod"] == "POST"
    assert event["headers"]["tEsT-HEADeR"] == "aValUE"  # the client's case
    assert event["multiValueHeaders"]["tEsT-HEADeR"] == ["aValUE"]
    assert event["queryStringParameters"] == {"x": "2", "y": " z"}  # the last value wins
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [" z"]}
    assert event["stageVariables"] == {"fn": "echo", "nofn": "nothere"}
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    rc = event["requestContext"]
    assert rc["path"] == "/prod/echo/a/b/" and rc["stage"] == "prod"
    assert rc["resourcePath"] == "/echo/{proxy+}" and rc["httpMethod"] == "POST"
    assert rc["requestId"] == headers["x-amzn-RequestId"]
    assert rc["extendedRequestId"] == headers["x-amz-apigw-id"]
    assert rc["identity"]["sourceIp"] == "127.0.0.1"
    assert set(rc["identity"]) >= {"caller", "user", "userArn", "accessKey", "cognitoIdentityId"}
    assert rc["identity"]["caller"] is None
    assert isinstance(rc["requestTimeEpoch"], int) and rc["protocol"] == "HTTP/1.1"
    assert len(rc["resourceId"]) == 6
    assert event["headers"]["X-Amzn-Trace-Id"] == headers["X-Amzn-Trace-Id"]
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert "Content-Length" not in event["headers"]
    # context and environment as Lambda sets them
    assert doc["function"] == "echo" and doc["memory"] == "256" and doc["table"] == "pets"
    assert doc["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert 0 < doc["remaining"] <= 3000 and doc["region"] == "us-east-1"


async def test_missing_collections_are_null(gw: RunningGateway) -> None:
    status, _, body = await _call(gw, "GET", "/prod/byvar")
    event = orjson.loads(body)["event"]
    assert status == 200
    assert event["queryStringParameters"] is None and event["pathParameters"] is None
    assert event["body"] is None


async def test_warm_reuse_keeps_module_state(gw: RunningGateway) -> None:
    first = orjson.loads((await _call(gw, "GET", "/prod/echo/x"))[2])
    second = orjson.loads((await _call(gw, "GET", "/prod/echo/x"))[2])
    assert second["pid"] == first["pid"] and second["calls"] == first["calls"] + 1


@pytest.mark.parametrize(("answer", "status", "expect_headers", "expect_body"), [
    ({"statusCode": 200}, 200, {"Content-Type": "application/json"}, b""),
    ({"headers": {"test-header": "value"}}, 200, {"test-header": "value"}, b""),
    ({"statusCode": "201", "body": "made"}, 201, {}, b"made"),
    ({"statusCode": 200, "headers": {"b": True}}, 200, {"b": "true"}, b""),
    ({"statusCode": 200, "headers": None}, 200, {}, b""),
    ({"statusCode": 200, "multiValueHeaders": {"m": ["v1", "v2"]}, "headers": {"M": "v3"}},
     200, {"m": "v1, v2, v3"}, b""),
    ({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True}, 200, {}, b"aGk="),
    ({"statusCode": "test"}, 502, {"x-amzn-ErrorType": "InternalServerErrorException"},
     b'{"message": "Internal server error"}'),
    ({"statusCode": 200, "wrongValue": "v"}, 502, {}, b'{"message": "Internal server error"}'),
    ({"statusCode": 200, "multiValueHeaders": {"m": "notalist"}}, 502, {}, None),
    ("justAString", 502, {}, b'{"message": "Internal server error"}'),
])
async def test_response_rules(gw: RunningGateway, answer: Any, status: int,
                              expect_headers: dict[str, str], expect_body: bytes | None) -> None:
    got, headers, body = await _call(gw, "POST", "/prod/respond", data=orjson.dumps(answer))
    assert got == status
    for name, value in expect_headers.items():
        assert headers.get(name) == value, (name, headers)
    if expect_body is not None:
        assert body == expect_body
    assert "X-Amzn-Trace-Id" in headers


async def test_binary_bodies_both_ways(gw: RunningGateway) -> None:
    status, headers, body = await _call(gw, "GET", "/prod/image", headers={"Accept": "image/png"})
    assert status == 200 and headers["Content-Type"] == "image/png" and body == bytes(range(256))
    # without a binary Accept the base64 text comes back as text, as AWS does
    _, _, text = await _call(gw, "GET", "/prod/image", headers={"Accept": "text/plain"})
    assert text == base64.b64encode(bytes(range(256)))
    # a binary request body reaches the function as base64
    _, _, echoed = await _call(gw, "POST", "/prod/echo/b", data=bytes([0, 255, 1]),
                               headers={"Content-Type": "image/png"})
    event = orjson.loads(echoed)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == bytes([0, 255, 1])


async def test_function_error_crash_and_init_error_are_502(gw: RunningGateway) -> None:
    for path in ("/prod/boom", "/prod/crash", "/prod/broken"):
        status, headers, body = await _call(gw, "GET", path)
        assert (status, body) == (502, b'{"message": "Internal server error"}'), path
        assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    # the crashed instance was replaced: the function answers again (and crashes again)
    status, _, _ = await _call(gw, "GET", "/prod/crash")
    assert status == 502


async def test_timeout_kills_and_replaces_the_instance(gw: RunningGateway) -> None:
    status, _, body = await _call(gw, "GET", "/prod/slow?s=0")
    first_pid = body.split()[-1]
    began = time.monotonic()
    status, _, body = await _call(gw, "GET", "/prod/slow?s=5")  # past the 1 s function timeout
    assert status == 502 and time.monotonic() - began < 4
    status, _, body = await _call(gw, "GET", "/prod/slow?s=0")
    assert status == 200 and body.split()[-1] != first_pid


async def test_reserved_concurrency_holds_under_50_concurrent_calls(gw: RunningGateway,
                                                                    tmp_path: Path) -> None:
    seen_dir = tmp_path / "seen"
    seen_dir.mkdir()
    results = await asyncio.gather(*(_call(gw, "GET", f"/prod/count?dir={seen_dir}")
                                     for _ in range(50)))
    assert {status for status, _, _ in results} == {200}
    counts = [int(body) for _, _, body in results]
    assert max(counts) <= 3  # reservedConcurrency: 3, counted by the processes themselves
    assert max(counts) >= 2  # and they did run side by side


async def test_configuration_errors_answer_500(gw: RunningGateway) -> None:
    for path in ("/prod/getmethod", "/prod/missing"):
        status, _, body = await _call(gw, "GET", path)
        assert (status, body) == (500, b'{"message": "Internal server error"}'), path


async def test_an_endpoint_function_over_the_invoke_api(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def invoke(request: web.Request) -> web.Response:
        event = await request.json()
        seen.append({"name": request.match_info["name"], "event": event})
        if event["path"] == "/remote" and event["queryStringParameters"]:
            return web.json_response({"errorMessage": "nope", "errorType": "Exception"},
                                     headers={"X-Amz-Function-Error": "Unhandled"})
        return web.json_response({"statusCode": 203, "body": "from the endpoint"})

    app = web.Application()
    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
    async with serve_app(app) as url, run_gateway(_config(tmp_path, endpoint=url)) as gw:
        assert (await _call(gw, "GET", "/prod/remote"))[::2] == (203, b"from the endpoint")
        assert (await _call(gw, "GET", "/prod/remote?fail=1"))[0] == 502
    assert seen[0]["name"] == "remote" and seen[0]["event"]["resource"] == "/remote"


async def test_sigterm_with_instances_running_leaves_no_child(tmp_path: Path) -> None:
    gw = GatewayProcess(_config(tmp_path))
    gw.start()
    try:
        async with aiohttp.ClientSession() as client:
            for path in ("/prod/echo/x", "/prod/count?dir=/tmp", "/prod/image"):
                async with client.get(f"{gw.url}{path}") as resp:
                    await resp.read()
            pending = asyncio.ensure_future(client.get(f"{gw.url}/prod/slow?s=0.5"))
            await asyncio.sleep(0.2)
            assert gw.proc is not None
            children = descendants(gw.proc.pid)
            assert len(children) >= 3  # one instance per function called
            gw.signal(signal.SIGTERM)
            with_response = await pending
            with_response.release()
        code = await asyncio.get_running_loop().run_in_executor(None, gw.wait, 15)
        assert code == 0
        assert [pid for pid in children if alive(pid)] == []
    finally:
        gw.stop()

