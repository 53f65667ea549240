from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path

import orjson
import pytest

from proxy.accesslog import _BATCH, PRESETS, AccessLog, compile_format
from proxy.auth import IamIdentity
from proxy.context import VARIABLES, AuthState, RequestContext, value

EPOCH_MS = 1_583_349_317_123  # 04/Mar/2020:19:15:17 +0000 (the spec's example)
RID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def full_ctx() -> RequestContext:
    ctx = RequestContext(RID, "Ab1CdE2fGhI=", time.perf_counter(), EPOCH_MS)
    ctx.api_id = "petstore"
    ctx.stage = "prod"
    ctx.http_method = "GET"
    ctx.path = "/prod/pets/7"
    ctx.query_string = "a=1"
    ctx.domain_name = "petstore.execute-api.localhost"
    ctx.source_ip = "10.1.2.3"
    ctx.user_agent = "curl/8.5.0"
    ctx.resource_path = "/pets/{petId}"
    ctx.resource_id = "r3s0urc3"
    ctx.api_key = "alice-0123456789abcdefghij"
    ctx.api_key_id = "alice"
    ctx.status = 502
    ctx.response_length = 123
    ctx.response_latency_ms = 41.6
    ctx.integration_latency_ms = 29000.4
    ctx.integration_status = 504
    ctx.integration_error = "Endpoint request timed out"
    ctx.error_message = "Internal server error"
    ctx.error_response_type = "INTEGRATION_TIMEOUT"
    ctx.account_id = "123456789012"
    auth = ctx.auth = AuthState("arn:aws:execute-api:us-east-1:123456789012:petstore/prod/GET/")
    auth.caller = IamIdentity("AKIAEXAMPLE0000001", "arn:aws:iam::123456789012:user/alice",
                              "123456789012", "AIDAALICE")
    auth.values = {"principalId": "alice", "tier": "gold", "quote": 'say "hi"'}
    auth.claims = {"email": "alice@example.com"}
    auth.latency_ms = 12.4
    auth.integration_latency_ms = 10.2
    auth.status = 200
    auth.error = "none at all"
    auth.request_id = "f00dfeed"
    return ctx


def bare_ctx() -> RequestContext:
    return RequestContext(RID, "Ab1CdE2fGhI=", time.perf_counter(), EPOCH_MS)


EXPECTED = {
    "requestId": RID,
    "extendedRequestId": "Ab1CdE2fGhI=",
    "apiId": "petstore",
    "stage": "prod",
    "domainName": "petstore.execute-api.localhost",
    "domainPrefix": "petstore",
    "httpMethod": "GET",
    "path": "/prod/pets/7",
    "protocol": "HTTP/1.1",
    "resourcePath": "/pets/{petId}",
    "resourceId": "r3s0urc3",
    "requestTime": "04/Mar/2020:19:15:17 +0000",
    "requestTimeEpoch": str(EPOCH_MS),
    "identity.sourceIp": "10.1.2.3",
    "identity.userAgent": "curl/8.5.0",
    "identity.apiKey": "alice-0123456789abcdefghij",
    "identity.apiKeyId": "alice",
    "identity.caller": "AIDAALICE",
    "identity.user": "AIDAALICE",
    "identity.userArn": "arn:aws:iam::123456789012:user/alice",
    "identity.accountId": "123456789012",
    "identity.accessKey": "AKIAEXAMPLE0000001",
    "accountId": "123456789012",
    "authorizer.latency": "12",
    "authorizer.integrationLatency": "10",
    "authorizer.status": "200",
    "authorizer.error": "none at all",
    "authorizer.requestId": "f00dfeed",
    "status": "502",
    "responseLength": "123",
    "responseLatency": "42",
    "integrationLatency": "29000",
    "integration.latency": "29000",
    "integrationStatus": "504",
    "integration.status": "504",
    "integration.integrationStatus": "504",
    "integration.error": "Endpoint request timed out",
    "integrationErrorMessage": "Endpoint request timed out",
    "error.message": "Internal server error",
    "error.messageString": '"Internal server error"',
    "error.responseType": "INTEGRATION_TIMEOUT",
}
# set on a fresh context: the ids, the receipt time and the protocol
ALWAYS_SET = {"requestId", "extendedRequestId", "requestTime", "requestTimeEpoch", "protocol"}


def test_every_variable_is_covered_here() -> None:
    assert set(EXPECTED) <= set(VARIABLES)
    assert {v for v in VARIABLES if not v.startswith(("identity.", "integration.", "error."))
            and v not in EXPECTED} <= {"awsEndpointRequestId", "deploymentId",
                                       "isCanaryRequest", "xrayTraceId", "wafResponseCode",
                                       "webaclArn", "authorizer.claims"}


def test_an_authorizer_s_own_entries_are_variables_too() -> None:
    fmt = ('{"p":"$context.authorizer.principalId","t":"$context.authorizer.tier",'
           '"q":"$context.authorizer.quote","e":"$context.authorizer.claims.email",'
           '"n":"$context.authorizer.nope","c":"$context.authorizer.claims"}')
    line = compile_format(fmt)(full_ctx())
    assert orjson.loads(line) == {"p": "alice", "t": "gold", "q": 'say "hi"',
                                  "e": "alice@example.com", "n": "-", "c": "-"}
    assert orjson.loads(compile_format(fmt)(bare_ctx())) == dict.fromkeys("ptqenc", "-")
    # gateway responses and mappings read the same entries through value()
    assert value(full_ctx(), "authorizer.tier") == "gold"
    assert value(full_ctx(), "authorizer.claims.email") == "alice@example.com"
    assert value(full_ctx(), "authorizer.claims") is None
    assert value(bare_ctx(), "authorizer.principalId") is None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_variable(name: str) -> None:
    render = compile_format(f"[$context.{name}]")
    assert render(full_ctx()) == f"[{EXPECTED[name]}]"


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - ALWAYS_SET - {"responseLatency"}))
def test_each_unset_variable_is_a_dash(name: str) -> None:
    assert compile_format(f"[$context.{name}]")(bare_ctx()) == "[-]"


def test_response_latency_unset_is_measured_from_start() -> None:
    ctx = bare_ctx()
    ctx.start = time.perf_counter() - 1.5
    assert int(compile_format("$context.responseLatency")(ctx)) >= 1500


def test_unknown_variables_are_dashes_and_text_stays() -> None:
    render = compile_format("a $context.nope b $context.authorizer.claims.sub c 100% $context.")
    # (authorizer.claims.sub is a variable without a value here: no such claim)
    assert render(full_ctx()) == "a - b - c 100% $context."


def test_longest_name_wins() -> None:
    render = compile_format(
        "$context.integrationLatency|$context.integration.latency|$context.status."
        "|$context.requestIdX|$context.identity.sourceIp"
    )
    assert render(full_ctx()) == "29000|29000|502.|-|10.1.2.3"


def test_request_time_is_english_utc_and_follows_the_second() -> None:
    render = compile_format("$context.requestTime")
    ctx = bare_ctx()
    assert render(ctx) == "04/Mar/2020:19:15:17 +0000"
    ctx.request_time_epoch_ms = 1_704_067_199_999  # last ms of 2023
    assert render(ctx) == "31/Dec/2023:23:59:59 +0000"
    ctx.request_time_epoch_ms += 1
    assert render(ctx) == "01/Jan/2024:00:00:00 +0000"


def test_clf_preset() -> None:
    line = compile_format("CLF")(full_ctx())
    assert line == (
        '10.1.2.3 AIDAALICE AIDAALICE [04/Mar/2020:19:15:17 +0000] "GET /pets/{petId} HTTP/1.1" '
        '502 123 '
        f"{RID} Ab1CdE2fGhI="
    )
    assert compile_format("CLF")(bare_ctx()) == (
        f'- - - [04/Mar/2020:19:15:17 +0000] "- - HTTP/1.1" - - {RID} Ab1CdE2fGhI='
    )


def test_json_preset_field_by_field() -> None:
    doc = orjson.loads(compile_format("JSON")(full_ctx()))
    assert doc == {
        "requestId": RID, "extendedRequestId": "Ab1CdE2fGhI=", "ip": "10.1.2.3",
        "caller": "AIDAALICE", "user": "AIDAALICE", "requestTime": "04/Mar/2020:19:15:17 +0000",
        "httpMethod": "GET", "resourcePath": "/pets/{petId}", "status": "502",
        "protocol": "HTTP/1.1", "responseLength": "123",
    }
    bare = orjson.loads(compile_format("JSON")(bare_ctx()))
    assert bare["ip"] == bare["status"] == bare["httpMethod"] == bare["responseLength"] == "-"


def test_csv_and_xml_presets() -> None:
    assert compile_format("CSV")(full_ctx()) == (
        f"10.1.2.3,AIDAALICE,AIDAALICE,04/Mar/2020:19:15:17 +0000,GET,/pets/{{petId}},HTTP/1.1,"
        f"502,123,{RID}"
    )
    xml = compile_format("XML")(full_ctx())
    assert xml.startswith(f'<request id="{RID}"> <ip>10.1.2.3</ip> <caller>AIDAALICE</caller>')
    assert "<status>502</status>" in xml and xml.endswith("</request>")
    assert set(PRESETS) == {"CLF", "JSON", "CSV", "XML"}


HOSTILE = 'ev"il\\ \n\r\t\x00\x1b\x7f <b>&\'é'


def test_json_format_stays_valid_json_with_hostile_values() -> None:
    ctx = full_ctx()
    ctx.user_agent = HOSTILE
    ctx.path = HOSTILE
    ctx.error_message = HOSTILE
    render = compile_format(
        '{"ua":"$context.identity.userAgent","path":"$context.path",'
        '"msg":$context.error.messageString,"status":$context.status}'
    )
    line = render(ctx)
    assert "\n" not in line and "\r" not in line
    assert orjson.loads(line) == {"ua": HOSTILE, "path": HOSTILE, "msg": HOSTILE, "status": 502}


def test_text_format_keeps_one_line() -> None:
    ctx = full_ctx()
    ctx.user_agent = "a\nb\tc\x00"
    assert compile_format('"$context.identity.userAgent"')(ctx) == '"a\\nb\\tc\\u0000"'


def test_xml_format_escapes_markup() -> None:
    ctx = full_ctx()
    ctx.user_agent = "<x>&\"'"
    assert compile_format("<ua>$context.identity.userAgent</ua>")(ctx) == (
        "<ua>&lt;x&gt;&amp;&quot;&apos;</ua>"
    )


def test_format_is_one_line() -> None:
    render = compile_format("{\n  \"id\": \"$context.requestId\"\n}")
    assert render(bare_ctx()) == '{   "id": "' + RID + '" }'


# -- destinations -----------------------------------------------------------------------------


async def test_file_destination_written_and_flushed_on_aclose(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("old\n")
    log = AccessLog(str(path))
    render = compile_format("JSON")
    lines = []
    for i in range(1000):
        ctx = full_ctx()
        ctx.response_length = i
        lines.append(render(ctx))
        log.write(lines[-1])
    await log.aclose()
    got = path.read_text().splitlines()
    assert got[0] == "old"  # appended, not truncated
    assert got[1:] == lines
    assert [orjson.loads(x)["responseLength"] for x in got[1:]] == [str(i) for i in range(1000)]
    assert (log.written, log.dropped) == (1000, 0)
    log.write("after close")
    assert log.dropped == 1
    await log.aclose()  # idempotent
    assert "after close" not in path.read_text()


async def test_unwritable_destination_reported_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sluice.accesslog")
    log = AccessLog(str(tmp_path / "no-such-dir" / "access.log"))
    for i in range(300):
        log.write(f"line {i}")
    await log.aclose()
    errors = [r for r in caplog.records if r.name == "sluice.accesslog"]
    assert len(errors) == 1
    assert "no-such-dir" in errors[0].getMessage()
    assert (log.written, log.dropped) == (0, 300)


async def test_closed_pipe_is_reported_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.ERROR, logger="sluice.accesslog")
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # the reader went away: every write is EPIPE
    pipe = os.fdopen(write_fd, "w")
    monkeypatch.setattr(sys, "stdout", pipe)
    log = AccessLog("stdout")
    for i in range(50):
        log.write(f"line {i}")
    await log.aclose()
    monkeypatch.undo()
    with contextlib.suppress(BrokenPipeError):  # the unwritten lines are still buffered
        pipe.close()
    assert len([r for r in caplog.records if r.name == "sluice.accesslog"]) == 1
    assert (log.written, log.dropped) == (0, 50)


async def test_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    log = AccessLog(str(fifo), max_queue=10)
    log.write("line 0")
    # the writer took it and now waits in open() for a reader of the fifo
    for _ in range(5000):
        if log._queue.empty():
            break
        await asyncio.sleep(0.001)
    # lines go to the writer in batches of up to _BATCH: a full batch does not fit in the 10
    # the queue may hold, so it is dropped at once, without blocking
    for i in range(1, _BATCH + 100):
        log.write(f"line {i}")
    assert log.dropped >= _BATCH
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        await log.aclose()
        data = b""
        while chunk := os.read(reader, 65536):
            data += chunk
    finally:
        os.close(reader)
    lines = data.decode().splitlines()
    assert log.written == len(lines)
    assert log.written + log.dropped == _BATCH + 100
    assert lines == [f"line {i}" for i in range(len(lines))]


async def test_stdout_destination(capsys: pytest.CaptureFixture[str]) -> None:
    log = AccessLog("stdout")
    log.write("one")
    log.write('{"two": 2}')
    await log.aclose()
    assert capsys.readouterr().out == 'one\n{"two": 2}\n'


async def test_stderr_destination(capfd: pytest.CaptureFixture[str]) -> None:
    log = AccessLog("stderr")
    log.write("to stderr")
    await log.aclose()
    captured = capfd.readouterr()
    assert captured.err == "to stderr\n"
    assert captured.out == ""


def test_literal_text_comes_out_verbatim_whatever_it_holds() -> None:
    # The format's text becomes string constants of generated code: braces, quotes,
    # backslashes, percent signs and code-looking text must neither break it nor run.
    text = r"""{x} {{y}} %s %% ' " \ \n ''' {__import__('os').getcwd()} """ + '"""\t'
    render = compile_format(f"{text}$context.status{text}")
    ctx = full_ctx()
    assert render(ctx) == f"{text}{ctx.status}{text}"


def test_kept_escapes_of_config_values_match_fresh_ones_and_stay_bounded() -> None:
    # resourcePath, stage and httpMethod keep their escaped form per format: a value seen
    # again must come out exactly as escaped the first time, and many distinct values (a
    # client inventing methods) must neither grow the memo without bound nor go unescaped
    render = compile_format('{"m":"$context.httpMethod","r":"$context.resourcePath",'
                            '"s":"$context.stage"}')
    ctx = full_ctx()
    ctx.resource_path = HOSTILE
    ctx.stage = 'st"age'
    for _ in range(3):
        assert orjson.loads(render(ctx)) == {"m": "GET", "r": HOSTILE, "s": 'st"age'}
    for i in range(5000):
        ctx.http_method = f'M"{i}'
        assert orjson.loads(render(ctx))["m"] == f'M"{i}'
    ctx.http_method = 'M"1'
    assert orjson.loads(render(ctx))["m"] == 'M"1'
    memo = render.__globals__["_mem"]
    assert len(memo) <= 4096


def test_unset_and_numeric_values_in_a_format() -> None:
    ctx = bare_ctx()
    render = compile_format("$context.status $context.responseLength $context.identity.caller"
                            " $context.requestTimeEpoch")
    assert render(ctx) == f"- - - {EPOCH_MS}"
    ctx.status, ctx.response_length = 204, 0
    assert render(ctx) == f"204 0 - {EPOCH_MS}"
