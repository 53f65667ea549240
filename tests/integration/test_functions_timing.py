"""How a local function keeps time without a timer per invocation: its deadline tick ends
callers' waits at their deadlines and times out instances past their init limit or function
timeout (driven here with a clock of the test's own, through ``check_deadlines``), runs only
while invocations run or calls wait, and hands a finishing instance straight to the next
caller in line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.config.model import AwsSettings, FunctionConfig
from proxy.functions import Functions, InvokeResult, LocalFunction, NoInstance
from proxy.functions.instance import INIT_TIMEOUT_S
from proxy.upstream import PoolUpstream
from tests.support.waiting import eventually

APP = '''
import os, time
CALLS = 0
if os.environ.get("SLOW_INIT"):
    time.sleep(60)
def handler(event, context):
    global CALLS
    CALLS += 1
    if event.get("mark"):  # the test sees the invocation has reached the handler
        open(event["mark"], "w").close()
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"calls": CALLS, "pid": os.getpid()}
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


@pytest.fixture
async def upstream() -> AsyncIterator[PoolUpstream]:
    up = PoolUpstream()
    yield up
    await up.aclose()


def local(code: Path, upstream: PoolUpstream, **kw: Any) -> tuple[Functions, LocalFunction]:
    fns = Functions({"fn": FunctionConfig("fn", handler="app.handler", code_uri=str(code), **kw)},
                    upstream=upstream, aws=AwsSettings())
    fn = fns.get("fn")
    assert isinstance(fn, LocalFunction)
    return fns, fn


def start(fn: LocalFunction, event: Any, timeout: float = 30.0) -> asyncio.Future[InvokeResult]:
    loop = asyncio.get_running_loop()
    return asyncio.ensure_future(fn.invoke(orjson.dumps(event), deadline=loop.time() + timeout))


def now() -> float:
    return asyncio.get_running_loop().time()


async def running(mark: Path) -> None:
    await eventually(mark.exists, what="the handler runs")


async def test_a_caller_past_its_deadline_stops_waiting_and_the_function_goes_on(
        code: Path, tmp_path: Path, upstream: PoolUpstream) -> None:
    fns, fn = local(code, upstream, reserved_concurrency=1, timeout_s=900)
    try:
        await start(fn, {})  # warm
        slow = start(fn, {"sleep": 0.3, "mark": str(tmp_path / "mark")}, timeout=5)
        await running(tmp_path / "mark")
        fn.check_deadlines(now() + 4)  # before the deadline: nothing ends
        await asyncio.sleep(0)
        assert not slow.done()
        fn.check_deadlines(now() + 6)
        with pytest.raises(NoInstance, match="no result before the deadline"):
            await slow
        after = orjson.loads((await start(fn, {})).payload)  # same process, slot given back
    finally:
        await fns.aclose()
    assert after["calls"] == 3


async def test_an_invocation_past_its_function_timeout_is_timed_out_and_killed(
        code: Path, tmp_path: Path, upstream: PoolUpstream) -> None:
    fns, fn = local(code, upstream, timeout_s=900)
    try:
        warm = orjson.loads((await start(fn, {})).payload)
        slow = start(fn, {"sleep": 60, "mark": str(tmp_path / "mark")}, timeout=2000)
        await running(tmp_path / "mark")
        fn.check_deadlines(now() + 899)
        await asyncio.sleep(0)
        assert not slow.done()
        fn.check_deadlines(now() + 901)
        result = await slow
        after = await start(fn, {})
    finally:
        await fns.aclose()
    assert result.function_error == "Unhandled"
    assert orjson.loads(result.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 900.00 "
                        "seconds"}
    assert after.cold_start and orjson.loads(after.payload)["pid"] != warm["pid"]


async def test_an_init_past_its_limit_is_timed_out(code: Path, upstream: PoolUpstream) -> None:
    fns, fn = local(code, upstream, environment={"SLOW_INIT": "1"})
    try:
        first = start(fn, {}, timeout=60)
        await eventually(lambda: len(fn.pids) == 1, what="the instance is spawned")
        fn.check_deadlines(now() + INIT_TIMEOUT_S + 1)
        result = await first
        await eventually(lambda: fn.instances == 0, what="the instance is gone")
    finally:
        await fns.aclose()
    assert orjson.loads(result.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after "
                        f"{INIT_TIMEOUT_S:.2f} seconds"}


async def test_a_waiting_call_past_its_deadline_leaves_the_line_and_never_runs(
        code: Path, tmp_path: Path, upstream: PoolUpstream) -> None:
    fns, fn = local(code, upstream, reserved_concurrency=1, timeout_s=900)
    try:
        await start(fn, {})  # warm
        busy = start(fn, {"sleep": 0.3, "mark": str(tmp_path / "mark")})
        await running(tmp_path / "mark")
        waiting = start(fn, {}, timeout=5)
        await asyncio.sleep(0)
        fn.check_deadlines(now() + 6)
        with pytest.raises(NoInstance, match="no instance before the deadline"):
            await waiting
        first = orjson.loads((await busy).payload)
        after = orjson.loads((await start(fn, {})).payload)
    finally:
        await fns.aclose()
    assert first["calls"] == 2
    assert after["calls"] == 3 and after["pid"] == first["pid"]  # the expired call never ran


async def test_a_finishing_instance_goes_to_the_callers_in_line(
        code: Path, upstream: PoolUpstream) -> None:
    fns, fn = local(code, upstream, reserved_concurrency=1)
    try:
        results = await asyncio.gather(*(start(fn, {"sleep": 0.02}) for _ in range(6)))
    finally:
        await fns.aclose()
    docs = [orjson.loads(r.payload) for r in results]
    assert [d["calls"] for d in docs] == [1, 2, 3, 4, 5, 6]  # in order, one process
    assert len({d["pid"] for d in docs}) == 1
    assert [r.cold_start for r in results] == [True] + [False] * 5


async def test_the_tick_runs_only_while_calls_run(code: Path, upstream: PoolUpstream) -> None:
    fns, fn = local(code, upstream, reserved_concurrency=2)
    try:
        assert not fn.ticking
        running = [start(fn, {"sleep": 0.2}) for _ in range(3)]
        await asyncio.sleep(0)
        assert fn.ticking
        await asyncio.gather(*running)
        await eventually(lambda: not fn.ticking, what="the tick stops")
        assert fn.instances == 2  # idle and warm, with no tick
    finally:
        await fns.aclose()
