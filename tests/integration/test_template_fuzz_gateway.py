"""Random mapping templates never crash the gateway (issue 16): each is either a config error
naming the template's field (line and column) at load, or deployed, and then every request to
it is answered, within a bound, with its method response or one of AWS's gateway responses;
never a traceback in the log, never a hang.

One real gateway and one backend run in a thread of their own (their own event loop) for the
whole module; hypothesis deploys each example with ``Runtime.reload`` and sends real requests.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.config.loader import load_config
from proxy.errors import ConfigError
from tests.support.gateway import RunningGateway, run_gateway, serve_app, write_config
from tests.unit.test_vtl_fuzz import TOKENS, bodies

# whole statements, so that examples reach the render and the response, not only the parser
SNIPPETS = [
    "#set($context.responseOverride.status = 404)", "#set($context.responseOverride.status = 101)",
    "#set($context.responseOverride.status = 'x')", "#set($context.responseOverride.header.X = 'v')",
    "#set($context.responseOverride.header['a b'] = 'v')",
    "#set($context.responseOverride.header.Y = $util.urlDecode('%0d%0aZ: 1'))",
    "#set($context.requestOverride.path.p = '../../etc')",
    "#set($context.requestOverride.path.p = $util.urlDecode('%ff%00'))",
    "#set($context.requestOverride.header.Content-Length = '1')",
    "#set($context.requestOverride.querystring.q = [1, 2])", "$input.path('$.a')",
    "$input.json('$')", "$util.parseJson($input.body)", "$util.base64Decode('%%%')",
    "$util.parseJson('\"\\ud800\"')", '{"statusCode": 200}', '{"statusCode": 503}',
    '{"statusCode": 404}', "#foreach($i in [1..2000])$i#end", "#stop", "$input.params('p')",
]

templates = st.one_of(
    st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=5).map("".join),
    st.lists(st.sampled_from([
        *TOKENS, "$context.responseOverride.status", "$context.responseOverride.header.h",
        "#set($context.responseOverride.status = ", "#set($context.requestOverride.path.p = ",
        "#set($context.requestOverride.header.X = ", "#set($context.responseOverride.header.",
        '{"statusCode": 200}', '{"statusCode": 503}', "{statusCode: 404}", "99", "1.5e3",
        "$input.params('p')", "'\\r\\n'", "'../x'", "$util.urlDecode('%0d%0a')",
    ]), max_size=30).map("".join),
    st.text(max_size=120),
)

# gateway-made answers a broken template may produce, byte for byte
GATEWAY_ERRORS = {
    400: None,  # "Could not parse request body into json: ..." or a path leaving its prefix
    415: b'{"message":"Unsupported Media Type"}',
    500: b'{"message": "Internal server error"}',
}


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    """A gateway and a backend on an event loop in a thread; examples reload and request."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.gateway: RunningGateway | None = None
        self.backend = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.failure: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by the fixture
            self.failure = exc
            self.ready.set()
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        async def echo(request: web.Request) -> web.Response:
            await request.read()
            return web.json_response({"path": request.path}, headers={"X-B": "1"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        self.stop = asyncio.Event()
        async with serve_app(app) as backend:
            self.backend = backend[len("http://"):]
            config = self.write("{}", "{}", '{"statusCode": 200}')
            async with run_gateway(config) as gateway:
                self.gateway = gateway
                self.ready.set()
                await self.stop.wait()

    def write(self, request: str, response: str, mock: str) -> Path:
        responses = {"default": {"statusCode": "200",
                                 "responseTemplates": {"application/json": response}},
                     "5\\d{2}": {"statusCode": "502"}}
        api = {
            "openapi": "3.0.1", "info": {"title": "fuzz", "version": "1"},
            "paths": {
                "/http/{p}": {"post": {
                    "parameters": [{"name": "p", "in": "path", "required": True,
                                    "schema": {"type": "string"}}],
                    "responses": {}, "x-amazon-apigateway-integration": {
                        "type": "http", "httpMethod": "POST",
                        "uri": "http://${stageVariables.backend}/base/{p}",
                        "requestParameters": {"integration.request.path.p": "method.request.path.p"},
                        "requestTemplates": {"application/json": request},
                        "responses": responses}}},
                "/mock": {"post": {"responses": {}, "x-amazon-apigateway-integration": {
                    "type": "mock", "requestTemplates": {"application/json": mock},
                    "responses": responses}}},
            },
        }
        return write_config(self.tmp, api, variables={"backend": self.backend})

    def reload(self, config: Any) -> None:
        assert self.gateway is not None
        asyncio.run_coroutine_threadsafe(self.gateway.runtime.reload(config),
                                         self.loop).result(timeout=30)

    def request(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self.gateway is not None
        host, _, port = self.gateway.url.removeprefix("http://").partition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("POST", f"/prod{path}", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def close(self) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    errors = _Errors()
    logging.getLogger("sluice").addHandler(errors)
    h = Harness(tmp_path_factory.mktemp("fuzz"))
    h.thread.start()
    h.ready.wait(timeout=30)
    if h.failure is not None:
        raise h.failure
    try:
        yield h
    finally:
        h.close()
        logging.getLogger("sluice").removeHandler(errors)
    tracebacks = [r.getMessage() for r in errors.records if r.exc_info]
    assert tracebacks == []


def _answered(status: int, headers: dict[str, str], body: bytes) -> None:
    assert 200 <= status <= 599
    if "x-amzn-errortype" in headers:  # a gateway response: AWS's bytes
        expected = GATEWAY_ERRORS[status]
        if expected is not None:
            assert body == expected
        else:
            assert orjson.loads(body)["message"]
    assert headers["x-amzn-requestid"]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(templates, templates, templates, bodies, st.sampled_from(["p", "a%20b", "%0d%0a"]))
def test_random_templates_never_crash_the_gateway(harness: Harness, request_t: str,
                                                   response_t: str, mock_t: str, body: str,
                                                   segment: str) -> None:
    config = harness.write(request_t, response_t, mock_t)
    try:
        loaded = load_config(config)
    except ConfigError as err:
        for problem in err.problems:  # a compile error names the template, line and column
            assert "Templates" in problem.path, problem
            assert "is not a valid mapping template: line " in problem.message
        return
    harness.reload(loaded)
    for path in (f"/http/{segment}", "/mock"):
        status, headers, answer = harness.request(path, body.encode("utf-8", "replace"))
        _answered(status, headers, answer)
