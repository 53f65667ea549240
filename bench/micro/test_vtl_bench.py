"""The reference pair of mapping templates rendered by Sluice's compiled VTL and by airspeed-ext
(compiled once, the body parsed once per render, the same JSONPath and escape functions).

Run: .venv/bin/pytest bench/micro/test_vtl_bench.py -m benchmark -p no:randomly
The figures go in the proxy/vtl/_codegen.py docstring.
"""

from __future__ import annotations

from typing import Any

import airspeed
import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.micro.vtl_reference import (
    CONTEXT,
    REQUEST_BODY,
    REQUEST_TEMPLATE,
    RESPONSE_BODY,
    RESPONSE_TEMPLATE,
)
from proxy.vtl import Inputs, compile_template
from proxy.vtl._javastr import escape_javascript
from proxy.vtl._jsonpath import compile_path

pytestmark = pytest.mark.benchmark


class _AirspeedInput:
    def __init__(self, body: str) -> None:
        self.root = orjson.loads(body)

    def path(self, p: str) -> Any:
        return compile_path(p).find(self.root)


class _AirspeedUtil:
    def escapeJavaScript(self, x: str) -> str:
        return escape_javascript(x)


def _sluice_pair() -> tuple[str, str]:
    req, resp = compile_template(REQUEST_TEMPLATE), compile_template(RESPONSE_TEMPLATE)
    req_in = Inputs(body=REQUEST_BODY, context=CONTEXT)
    resp_in = Inputs(body=RESPONSE_BODY, context=CONTEXT)

    def run() -> tuple[str, str]:
        return req.render(req_in).text, resp.render(resp_in).text

    return run  # type: ignore[return-value]


def _airspeed_pair() -> Any:
    req, resp = airspeed.Template(REQUEST_TEMPLATE), airspeed.Template(RESPONSE_TEMPLATE)
    req.ensure_compiled()
    resp.ensure_compiled()
    util = _AirspeedUtil()

    def run() -> tuple[str, str]:
        return (
            req.merge({"input": _AirspeedInput(REQUEST_BODY), "util": util, "context": CONTEXT}),
            resp.merge({"input": _AirspeedInput(RESPONSE_BODY), "util": util,
                        "context": CONTEXT}),
        )

    return run


def test_reference_pair_sluice(benchmark: BenchmarkFixture) -> None:
    out = benchmark(_sluice_pair())
    expected = _airspeed_pair()()
    # whitespace after directives differs (Velocity 1.7's #end takes its newline, airspeed's
    # does not always); the JSON both produce is the same
    assert [orjson.loads(o) for o in out] == [orjson.loads(o) for o in expected]


def test_reference_pair_airspeed(benchmark: BenchmarkFixture) -> None:
    benchmark(_airspeed_pair())
