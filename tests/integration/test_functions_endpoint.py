"""``endpoint`` functions: the Lambda Invoke API, served here by a small aiohttp app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from proxy.config.model import AwsSettings, FunctionConfig
from proxy.functions import Functions, FunctionUnavailable, NoInstance
from proxy.functions.runtime_api import MAX_RESPONSE_BYTES
from proxy.upstream import PoolUpstream


@pytest.fixture
async def invoke_api() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def invoke(request: web.Request) -> web.StreamResponse:
        event = orjson.loads(await request.read())
        seen.append({"name": request.match_info["name"], "event": event,
                     "trace": request.headers.get("X-Amzn-Trace-Id"),
                     "type": request.headers.get("X-Amz-Invocation-Type")})
        if event.get("fail"):
            return web.Response(body=orjson.dumps({"errorMessage": "boom", "errorType": "E"}),
                                headers={"X-Amz-Function-Error": "Unhandled",
                                         "x-amzn-RequestId": "req-2"})
        if event.get("sleep"):
            await asyncio.sleep(event["sleep"])
        if event.get("huge"):  # past Lambda's 6 MB, in chunks or with a Content-Length
            body = b'"' + b"x" * MAX_RESPONSE_BYTES + b'"'
            if event["huge"] == "chunked":
                response = web.StreamResponse()
                response.enable_chunked_encoding()
                await response.prepare(request)
                for at in range(0, len(body), 65536):
                    await response.write(body[at:at + 65536])
                await response.write_eof()
                return response
            return web.Response(body=body)
        if event.get("missing"):
            return web.json_response({"Message": "Function not found"}, status=404)
        return web.Response(body=orjson.dumps({"statusCode": 200, "body": "hi"}),
                            headers={"x-amzn-RequestId": "req-1"})

    app = web.Application()
    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_endpoint_function(invoke_api: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = invoke_api
    up = PoolUpstream()
    fns = Functions({"legacy": FunctionConfig("legacy", endpoint=url),
                     "rie": FunctionConfig("rie", endpoint=url + "/2015-03-31/functions/"
                                                               "function/invocations")},
                    upstream=up, aws=AwsSettings())
    loop = asyncio.get_running_loop()
    try:
        fn = fns.get("legacy")
        ok = await fn.invoke(b'{"a": 1}', deadline=loop.time() + 5, trace_id="Root=1-a-b")
        failed = await fn.invoke(b'{"fail": true}', deadline=loop.time() + 5)
        await fns.get("rie").invoke(b"{}", deadline=loop.time() + 5)
        with pytest.raises(NoInstance):
            await fn.invoke(b'{"sleep": 1}', deadline=loop.time() + 0.2)
        with pytest.raises(FunctionUnavailable):
            await fn.invoke(b'{"missing": true}', deadline=loop.time() + 5)
    finally:
        await fns.aclose()
        await up.aclose()
    assert (ok.payload, ok.function_error, ok.request_id) == (
        b'{"statusCode":200,"body":"hi"}', None, "req-1")
    assert (failed.function_error, failed.request_id) == ("Unhandled", "req-2")
    assert orjson.loads(failed.payload) == {"errorMessage": "boom", "errorType": "E"}
    assert seen[0] == {"name": "legacy", "event": {"a": 1}, "trace": "Root=1-a-b",
                       "type": "RequestResponse"}
    assert seen[2]["name"] == "function"


async def test_an_answer_past_lambdas_limit_is_refused(
        invoke_api: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = invoke_api
    up = PoolUpstream()
    fns = Functions({"big": FunctionConfig("big", endpoint=url)}, upstream=up, aws=AwsSettings())
    fn = fns.get("big")
    loop = asyncio.get_running_loop()
    try:
        for how in ("chunked", "length"):
            with pytest.raises(FunctionUnavailable, match="more than Lambda's 6291556 bytes"):
                await fn.invoke(orjson.dumps({"huge": how}), deadline=loop.time() + 10)
        ok = await fn.invoke(b"{}", deadline=loop.time() + 5)  # the pool still serves
    finally:
        await fns.aclose()
        await up.aclose()
    assert ok.request_id == "req-1"


async def test_an_unreachable_endpoint_cannot_run() -> None:
    up = PoolUpstream()
    fns = Functions({"gone": FunctionConfig("gone", endpoint="http://127.0.0.1:9")},
                    upstream=up, aws=AwsSettings())
    try:
        with pytest.raises(FunctionUnavailable):
            await fns.get("gone").invoke(b"{}", deadline=asyncio.get_running_loop().time() + 5)
    finally:
        await fns.aclose()
        await up.aclose()
