"""Local functions as real processes under awslambdaric: warm reuse, context and environment,
errors as Lambda words them, crashes, init errors, timeouts, reserved concurrency, the Runtime
API's isolation between instances, logs, idle stop and shutdown."""

from __future__ import annotations

import asyncio
import http.client
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.config.model import AwsSettings, FunctionConfig
from proxy.functions import (
    FunctionMetrics,
    Functions,
    FunctionUnavailable,
    InvokeResult,
    LocalFunction,
    NoInstance,
    SharedConcurrency,
)
from proxy.upstream import PoolUpstream
from tests.support.waiting import eventually

APP = '''
import json, os, sys, time
CALLS = 0
def handler(event, context):
    global CALLS
    CALLS += 1
    action = event.get("action")
    if action == "raise":
        raise KeyError("missing thing")
    if action == "exit":
        sys.stdout.flush()
        os._exit(3)
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "print":
        print("printed by the handler")
    if action == "count":
        # how many invocations of this function run at once, seen by the processes
        mine = os.path.join(event["dir"], str(os.getpid()))
        open(mine, "w").close()
        seen = len(os.listdir(event["dir"]))
        time.sleep(0.03)
        os.remove(mine)
        return {"seen": seen}
    if action == "big":
        return "x" * event["size"]
    return {
        "calls": CALLS, "pid": os.getpid(), "event": event,
        "name": context.function_name, "version": context.function_version,
        "memory": context.memory_limit_in_mb, "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn, "remaining": context.get_remaining_time_in_millis(),
        "log_group": context.log_group_name, "log_stream": context.log_stream_name,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_", "_", "TZ", "TABLE"))},
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
'''


def config(code: Path, **kw: Any) -> FunctionConfig:
    name = kw.pop("name", "fn")
    values: dict[str, Any] = {"handler": "app.handler", "code_uri": str(code)}
    values.update(kw)
    return FunctionConfig(name, **values)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text(APP)
    return tmp_path / "code"


@pytest.fixture
async def upstream() -> AsyncIterator[PoolUpstream]:
    up = PoolUpstream()
    yield up
    await up.aclose()


async def call(fn: Any, event: Any, timeout: float = 10.0, **kw: Any) -> InvokeResult:
    loop = asyncio.get_running_loop()
    result: InvokeResult = await fn.invoke(orjson.dumps(event), deadline=loop.time() + timeout,
                                           **kw)
    return result


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().split(") ")[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[1] == me and fields[0] != "Z":
                found.add(int(entry))
    return found


async def test_warm_reuse_context_and_environment(code: Path, upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code, memory_size=256, timeout_s=7,
                                  environment={"TABLE": "pets"})},
                    upstream=upstream, aws=AwsSettings(region="eu-west-1"))
    fn = fns.get("fn")
    assert fn is not None
    try:
        first = await call(fn, {"a": 1}, trace_id="Root=1-5f84c7a5-6c3f8e8e2d3a4b5c6d7e8f90")
        second = await call(fn, {"a": 2}, function_arn="arn:aws:lambda:eu-west-1:"
                                                       "111122223333:function:fn:live")
    finally:
        await fns.aclose()
    a, b = orjson.loads(first.payload), orjson.loads(second.payload)
    assert first.function_error is None and first.cold_start and first.init_duration_ms
    assert not second.cold_start and second.init_duration_ms is None
    assert (a["calls"], b["calls"], a["pid"]) == (1, 2, b["pid"])  # module state survived
    assert a["event"] == {"a": 1} and b["event"] == {"a": 2}
    assert (a["name"], a["version"], a["memory"]) == ("fn", "$LATEST", "256")
    assert a["request_id"] == first.request_id != second.request_id
    assert a["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:fn"
    assert b["arn"] == "arn:aws:lambda:eu-west-1:111122223333:function:fn:live"
    assert 6000 < a["remaining"] <= 7000
    assert a["log_group"] == "/aws/lambda/fn"
    assert a["log_stream"].startswith(time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()))
    assert a["trace"] == "Root=1-5f84c7a5-6c3f8e8e2d3a4b5c6d7e8f90"
    env = a["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(code)
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}"
    assert env["TZ"] == ":UTC" and env["TABLE"] == "pets"
    host, port = env["AWS_LAMBDA_RUNTIME_API"].split(":")
    assert host == "127.0.0.1" and int(port) > 0


async def test_handler_exception_is_lambdas_error_document(code: Path,
                                                           upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code)}, upstream=upstream, aws=AwsSettings())
    fn = fns.get("fn")
    try:
        failed = await call(fn, {"action": "raise"})
        after = await call(fn, {})
    finally:
        await fns.aclose()
    assert failed.function_error == "Unhandled"
    doc = orjson.loads(failed.payload)
    assert (doc["errorType"], doc["errorMessage"], doc["requestId"]) == (
        "KeyError", "'missing thing'", failed.request_id)
    assert any("raise KeyError" in line for line in doc["stackTrace"])
    # a handled exception leaves the instance warm
    assert orjson.loads(after.payload)["calls"] == 2 and not after.cold_start


async def test_a_crash_answers_runtime_exit_error_and_the_instance_is_replaced(
        code: Path, upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code)}, upstream=upstream, aws=AwsSettings())
    fn = fns.get("fn")
    try:
        first = orjson.loads((await call(fn, {})).payload)
        crashed = await call(fn, {"action": "exit"})
        again = await call(fn, {})
    finally:
        await fns.aclose()
    assert crashed.function_error == "Unhandled"
    assert orjson.loads(crashed.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: "
                        "exit status 3"}
    assert again.cold_start and orjson.loads(again.payload)["pid"] != first["pid"]
    assert not alive(first["pid"])


async def test_an_init_error_answers_with_the_runtimes_report(tmp_path: Path,
                                                              upstream: PoolUpstream) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import no_such_module\ndef handler(e, c):\n    return 1\n")
    fns = Functions({"fn": config(code)}, upstream=upstream, aws=AwsSettings())
    fn = fns.get("fn")
    try:
        failed = await call(fn, {})
        (code / "app.py").write_text("def handler(e, c):\n    return 'fixed'\n")
        fixed = await call(fn, {})
    finally:
        await fns.aclose()
    assert failed.function_error == "Unhandled" and failed.cold_start
    doc = orjson.loads(failed.payload)
    assert doc["errorType"] == "Runtime.ImportModuleError"
    assert doc["errorMessage"] == ("Unable to import module 'app': No module named "
                                   "'no_such_module'")
    assert fixed.payload == b'"fixed"' and fixed.cold_start  # a new instance


async def test_a_bad_handler_name_is_an_init_error(code: Path, upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code, handler="app.nope")}, upstream=upstream, aws=AwsSettings())
    try:
        failed = await call(fns.get("fn"), {})
    finally:
        await fns.aclose()
    assert orjson.loads(failed.payload)["errorType"] == "Runtime.HandlerNotFound"


async def test_a_missing_interpreter_is_invalid_entrypoint(code: Path,
                                                           upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code, interpreter=str(code / "no-python"))},
                    upstream=upstream, aws=AwsSettings())
    try:
        failed = await call(fns.get("fn"), {})
    finally:
        await fns.aclose()
    doc = orjson.loads(failed.payload)
    assert failed.function_error == "Unhandled"
    assert doc["errorType"] == "Runtime.InvalidEntrypoint"


async def test_a_timeout_kills_and_replaces_the_instance(code: Path,
                                                         upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code, timeout_s=1)}, upstream=upstream, aws=AwsSettings())
    fn = fns.get("fn")
    try:
        warm = orjson.loads((await call(fn, {})).payload)
        began = time.perf_counter()
        slow = await call(fn, {"action": "sleep", "seconds": 30})
        elapsed = time.perf_counter() - began
        await eventually(lambda: not alive(warm["pid"]), what="the timed-out process is gone")
        after = await call(fn, {})
    finally:
        await fns.aclose()
    assert 0.95 < elapsed < 2.0
    assert slow.function_error == "Unhandled"
    assert orjson.loads(slow.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {slow.request_id} Error: Task timed out after 1.00 seconds"}
    assert after.cold_start and after.function_error is None


async def test_reserved_concurrency_holds_under_50_concurrent_calls(
        code: Path, tmp_path: Path, upstream: PoolUpstream) -> None:
    running = tmp_path / "running"
    running.mkdir()
    metrics = FunctionMetrics()
    fns = Functions({"fn": config(code, reserved_concurrency=3)}, upstream=upstream,
                    aws=AwsSettings(), metrics=metrics)
    fn = fns.get("fn")
    assert isinstance(fn, LocalFunction)
    try:
        results = await asyncio.gather(*(call(fn, {"action": "count", "dir": str(running)},
                                              timeout=30) for _ in range(50)))
        assert fn.instances <= 3
    finally:
        await fns.aclose()
    seen = [orjson.loads(r.payload)["seen"] for r in results]
    assert max(seen) == 3  # reached, never passed
    assert sum(r.cold_start for r in results) == 3
    metrics.flush()
    assert metrics._throttles.labels("fn")._value.get() == 47
    assert metrics._invocations.labels("fn")._value.get() == 50
    assert metrics._cold.labels("fn")._value.get() == 3


async def test_a_call_past_its_deadline_waiting_for_an_instance(code: Path,
                                                               upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code, reserved_concurrency=1)}, upstream=upstream,
                    aws=AwsSettings())
    fn = fns.get("fn")
    try:
        slow = asyncio.ensure_future(call(fn, {"action": "sleep", "seconds": 0.5}))
        await eventually(lambda: fn.instances == 1, what="the first call has its instance")
        with pytest.raises(NoInstance):
            await call(fn, {}, timeout=0.1)
        assert (await slow).function_error is None
        assert (await call(fn, {})).function_error is None  # the slot came back
    finally:
        await fns.aclose()


async def test_reserved_concurrency_zero_refuses(code: Path, upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code, reserved_concurrency=0)}, upstream=upstream,
                    aws=AwsSettings())
    try:
        with pytest.raises(FunctionUnavailable):
            await call(fns.get("fn"), {})
    finally:
        await fns.aclose()


async def test_the_caller_deadline_does_not_stop_the_function(code: Path,
                                                              upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code, reserved_concurrency=1)}, upstream=upstream,
                    aws=AwsSettings())
    fn = fns.get("fn")
    try:
        with pytest.raises(NoInstance):
            await call(fn, {"action": "sleep", "seconds": 0.3}, timeout=0.1)
        # it goes on, holds its slot, then the instance is warm again
        after = await call(fn, {})
    finally:
        await fns.aclose()
    assert not after.cold_start and orjson.loads(after.payload)["calls"] == 2


def _post(port: int, path: str, body: bytes = b"") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", path, body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


async def test_an_instance_cannot_answer_anothers_invocation(code: Path,
                                                            upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code), "other": config(code, name="other")},
                    upstream=upstream, aws=AwsSettings())
    fn, other = fns.get("fn"), fns.get("other")
    try:
        other_port = int(orjson.loads((await call(other, {})).payload)["env"]
                         ["AWS_LAMBDA_RUNTIME_API"].split(":")[1])
        slow = asyncio.ensure_future(call(fn, {"action": "sleep", "seconds": 0.5}))
        await eventually(lambda: fn.instances == 1 and fn._instances and
                         next(iter(fn._instances))._current is not None and
                         next(iter(fn._instances))._current.delivered_at is not None,
                         what="the slow call runs")
        victim = next(iter(fn._instances))._current.request_id
        path = f"/2018-06-01/runtime/invocation/{victim}/response"
        status, body = await asyncio.to_thread(_post, other_port, path, b'"forged"')
        assert (status, orjson.loads(body)) == (400, {"errorMessage": "Invalid request ID",
                                                      "errorType": "InvalidRequestID"})
        status, _ = await asyncio.to_thread(
            _post, other_port, f"/2018-06-01/runtime/invocation/{victim}/error", b"{}")
        assert status == 400
        status, _ = await asyncio.to_thread(_post, other_port, "/2018-06-01/runtime/init/error")
        assert status == 403  # that instance is past init
        status, _ = await asyncio.to_thread(_post, other_port, "/2018-06-01/elsewhere")
        assert status == 404
        result = await slow
    finally:
        await fns.aclose()
    assert orjson.loads(result.payload)["event"] == {"action": "sleep", "seconds": 0.5}


async def test_large_responses_and_the_6_mb_cap(code: Path, upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code)}, upstream=upstream, aws=AwsSettings())
    fn = fns.get("fn")
    try:
        big = await call(fn, {"action": "big", "size": 100_000})  # curl sends Expect: 100
        too_big = await call(fn, {"action": "big", "size": 6_300_000})
    finally:
        await fns.aclose()
    assert big.payload == orjson.dumps("x" * 100_000)
    assert too_big.function_error == "Unhandled"
    assert orjson.loads(too_big.payload)["errorType"] == "Function.ResponseSizeTooLarge"


async def test_logs_carry_the_function_and_request_id(code: Path, upstream: PoolUpstream,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sluice.functions")
    fns = Functions({"fn": config(code)}, upstream=upstream, aws=AwsSettings())
    try:
        result = await call(fns.get("fn"), {"action": "print"})
        rid = result.request_id
        await eventually(lambda: any("printed by the handler" in r.getMessage()
                                     for r in caplog.records), what="the handler's line")
    finally:
        await fns.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == "sluice.functions"]
    assert f"fn {rid} START RequestId: {rid} Version: $LATEST" in lines
    assert f"fn {rid} printed by the handler" in lines
    assert f"fn {rid} END RequestId: {rid}" in lines
    report = next(line for line in lines if line.startswith(f"fn {rid} REPORT"))
    assert f"REPORT RequestId: {rid}\tDuration: " in report
    for part in ("\tBilled Duration: ", " ms\tMemory Size: 128 MB\tMax Memory Used: ",
                 " MB\tInit Duration: "):
        assert part in report


async def test_idle_instances_stop(code: Path, upstream: PoolUpstream) -> None:
    fns = Functions({"fn": config(code)}, upstream=upstream, aws=AwsSettings(), idle_timeout_s=0.2)
    fn = fns.get("fn")
    try:
        pid = orjson.loads((await call(fn, {})).payload)["pid"]
        await eventually(lambda: not alive(pid), what="the idle instance stopped")
        # the process is gone before the pool hears of its exit (the exit is reaped async)
        await eventually(lambda: fn.instances == 0, what="the pool let the instance go")
        assert (await call(fn, {})).cold_start
    finally:
        await fns.aclose()


async def test_shutdown_leaves_no_child_process(code: Path, upstream: PoolUpstream) -> None:
    before = children()
    fns = Functions({"fn": config(code)}, upstream=upstream, aws=AwsSettings())
    fn = fns.get("fn")
    slow = [asyncio.ensure_future(call(fn, {"action": "sleep", "seconds": 5})) for _ in range(3)]
    await eventually(lambda: len(children() - before) == 3, within=10, what="3 instances run")
    await fns.aclose()
    assert children() - before == set()
    for task in slow:  # answered, not left hanging
        result = await task
        assert orjson.loads(result.payload)["errorType"] == "Runtime.ExitError"
    with pytest.raises(FunctionUnavailable):
        await call(fn, {})


KILLED_PARENT = '''
import asyncio, sys, orjson
from proxy.config.model import AwsSettings, FunctionConfig
from proxy.functions import Functions
from proxy.upstream import PoolUpstream

async def main():
    fns = Functions({"fn": FunctionConfig("fn", handler="app.handler", code_uri=sys.argv[1])},
                    upstream=PoolUpstream(), aws=AwsSettings())
    fn = fns.get("fn")
    loop = asyncio.get_running_loop()
    async def one():
        return await fn.invoke(b'{"action": "sleep", "seconds": 0.3}', deadline=loop.time() + 10)
    await asyncio.gather(one(), one())
    print(" ".join(map(str, fn.pids)), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
'''


async def test_a_sigkilled_gateway_leaves_no_instance(code: Path, tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(KILLED_PARENT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(code), stdout=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).parent.parent.parent))
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
    finally:
        proc.kill()
        await proc.wait()
    await eventually(lambda: not any(alive(p) for p in pids), within=5,
                     what="the instances died with their parent")


BOOTSTRAP = '''
import http.client, json, os, sys
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
conn = http.client.HTTPConnection(api)
if os.environ.get("FAIL_INIT"):
    conn.request("POST", "/2018-06-01/runtime/init/error", b"",
                 {"Lambda-Runtime-Function-Error-Type": "Custom.Thing"})
    conn.getresponse().read()
    sys.exit(1)
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    resp = conn.getresponse()
    event = json.loads(resp.read())
    rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    out = {"echo": event, "deadline": resp.getheader("Lambda-Runtime-Deadline-Ms"),
           "arn": resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
           "handler": os.environ["_HANDLER"]}
    if event.get("fail"):
        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/error", b"",
                     {"Lambda-Runtime-Function-Error-Type": "Function.Custom"})
    else:
        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response",
                     json.dumps(out).encode())
    conn.getresponse().read()
'''


async def test_a_command_bootstrap_speaks_the_runtime_api(tmp_path: Path,
                                                          upstream: PoolUpstream) -> None:
    (tmp_path / "bootstrap.py").write_text(BOOTSTRAP)
    cfg = FunctionConfig("boot", command=(sys.executable, "bootstrap.py"),
                         code_uri=str(tmp_path))
    failing = FunctionConfig("bad", command=(sys.executable, "bootstrap.py"),
                             code_uri=str(tmp_path), environment={"FAIL_INIT": "1"})
    fns = Functions({"boot": cfg, "bad": failing}, upstream=upstream, aws=AwsSettings())
    try:
        ok = await call(fns.get("boot"), {"x": 1})
        err = await call(fns.get("boot"), {"fail": True})
        init = await call(fns.get("bad"), {})
    finally:
        await fns.aclose()
    doc = orjson.loads(ok.payload)
    assert doc["echo"] == {"x": 1} and doc["handler"] == ""
    assert abs(int(doc["deadline"]) - (time.time() * 1000 + 3000)) < 2000
    assert doc["arn"].endswith(":function:boot")
    assert err.function_error == "Unhandled"
    assert orjson.loads(err.payload) == {"errorMessage": "Unknown application error occurred",
                                         "errorType": "Function.Custom"}
    assert orjson.loads(init.payload) == {"errorMessage": "Unknown application error occurred",
                                          "errorType": "Runtime.Unknown"}


def test_describe(code: Path) -> None:
    fns = Functions({"fn": config(code, reserved_concurrency=2),
                     "far": FunctionConfig("far", endpoint="http://127.0.0.1:9000")},
                    upstream=PoolUpstream(), aws=AwsSettings())
    assert fns.describe() == [
        ("far", "endpoint: http://127.0.0.1:9000/2015-03-31/functions/far/invocations"),
        ("fn", f"local: python app.handler in {code} (timeout 3 s, 128 MB, "
               "reservedConcurrency 2)")]


async def test_a_call_waits_for_a_slot_another_worker_holds(code: Path,
                                                            upstream: PoolUpstream) -> None:
    shared = SharedConcurrency(["fn"])
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()

    def other_worker() -> None:
        slots = shared.slots("fn", 1)
        assert slots.try_acquire()
        held.set()
        release.wait(10)
        slots.release()
        os._exit(0)

    proc = ctx.Process(target=other_worker)
    proc.start()
    fns = Functions({"fn": config(code, reserved_concurrency=1)}, upstream=upstream,
                    aws=AwsSettings(), concurrency=shared)
    try:
        assert await asyncio.to_thread(held.wait, 10)
        waiting = asyncio.ensure_future(call(fns.get("fn"), {}))
        await asyncio.sleep(0.05)  # a slot held elsewhere: the call must still be waiting
        assert not waiting.done()
        release.set()
        assert (await waiting).function_error is None
    finally:
        release.set()
        await asyncio.to_thread(proc.join, 10)
        await fns.aclose()


async def test_reload_keeps_unchanged_functions_warm_and_retires_changed_ones(
        code: Path, upstream: PoolUpstream) -> None:
    same, changed = config(code, name="same"), config(code, name="changed")
    fns = Functions({"same": same, "changed": changed}, upstream=upstream, aws=AwsSettings())
    try:
        kept_pid = orjson.loads((await call(fns.get("same"), {})).payload)["pid"]
        old = fns.get("changed")
        slow = asyncio.ensure_future(call(old, {"action": "sleep", "seconds": 0.3}))
        await eventually(lambda: old.instances == 1, what="the slow call started")
        await fns.reload({"same": same, "changed": config(code, name="changed", memory_size=512)})
        assert (await slow).function_error is None  # its call in flight finished
        assert orjson.loads((await call(fns.get("same"), {})).payload)["pid"] == kept_pid
        fresh = orjson.loads((await call(fns.get("changed"), {})).payload)
        assert fresh["memory"] == "512"
        await eventually(lambda: old.instances == 0, what="the old instance stopped")
    finally:
        await fns.aclose()
