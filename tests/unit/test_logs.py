from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from proxy.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    access_level = logging.getLogger("aiohttp.access").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(access_level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_json_lines_carry_time_level_logger_message_and_extras(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO", "json")
    log = logging.getLogger("sluice.server")
    log.info("listening on http://%s", "127.0.0.1:8080", extra={"listener": "data", "pid": 42})
    log.warning("store unreachable", extra={"store": Path("/x"), "onError": "allow"})
    out = lines(capsys)
    assert len(out) == 2
    first, second = (orjson.loads(x) for x in out)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert {k: v for k, v in first.items() if k != "time"} == {
        "level": "INFO", "logger": "sluice.server", "message": "listening on http://127.0.0.1:8080",
        "listener": "data", "pid": 42,
    }
    assert second["level"] == "WARNING"
    assert second["store"] == "/x"  # not JSON-native: written as str()
    assert second["onError"] == "allow"


def test_json_exception_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("sluice.reload").exception("reload failed")
    (line,) = lines(capsys)
    doc = orjson.loads(line)
    assert doc["message"] == "reload failed"
    assert "RuntimeError: boom" in doc["exc_info"]


def test_text_one_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    log = logging.getLogger("sluice.server")
    log.info("listening on http://127.0.0.1:8080", extra={"workers": 2})
    log.info("multi\nline")
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("shutdown failed")
    out = lines(capsys)
    assert len(out) == 3
    assert re.fullmatch(
        r"\S+Z INFO sluice\.server: listening on http://127\.0\.0\.1:8080 workers=2", out[0]
    )
    assert out[1].endswith("sluice.server: multi\\nline")
    assert "shutdown failed | Traceback" in out[2] and "ValueError: bad" in out[2]


def test_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("warning", "text")
    log = logging.getLogger("sluice.x")
    log.info("hidden")
    log.debug("hidden")
    log.warning("shown")
    out = lines(capsys)
    assert len(out) == 1 and out[0].endswith("WARNING sluice.x: shown")


def test_setup_twice_does_not_double_lines(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    setup_logging("INFO", "json")
    logging.getLogger("sluice.x").info("once")
    (line,) = lines(capsys)
    assert orjson.loads(line)["message"] == "once"


def test_aiohttp_access_lines_are_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    logging.getLogger("aiohttp.access").info("GET / 200")
    assert lines(capsys) == []


def test_bad_arguments_say_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="allowed are DEBUG, INFO"):
        setup_logging("LOUD")
    with pytest.raises(ValueError, match="allowed are text, json"):
        setup_logging("INFO", "yaml")


def test_info_lines_on_the_loop_go_out_together_each_iteration(
        capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    setup_logging("INFO", "text")
    log = logging.getLogger("sluice.functions")

    async def main() -> tuple[list[str], list[str], list[str]]:
        log.info("fn r1 START")
        log.info("fn r1 END")
        held = capsys.readouterr().err.splitlines()
        log.warning("a warning is not held")
        warned = capsys.readouterr().err.splitlines()
        await asyncio.sleep(0)  # the iteration ends: what was held is written
        return held, warned, capsys.readouterr().err.splitlines()

    held, warned, after = asyncio.run(main())
    assert held == []
    # the warning flushed the two held lines first: order is kept
    assert [line.split(": ", 1)[1] for line in warned] == [
        "fn r1 START", "fn r1 END", "a warning is not held"]
    assert after == []
    log.info("outside a loop: at once")
    assert capsys.readouterr().err.endswith("outside a loop: at once\n")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_line_log_formats_as_the_handler_does(capsys: pytest.CaptureFixture[str],
                                              fmt: str) -> None:
    import asyncio

    from proxy.logs import LineLog

    setup_logging("INFO", fmt)
    fast = LineLog("sluice.functions")

    async def main() -> None:
        fast.info("fn r1 START RequestId: r1 Version: $LATEST")
        logging.getLogger("sluice.functions").info("fn r1 START RequestId: r1 Version: $LATEST")
        await asyncio.sleep(0)

    asyncio.run(main())
    held, ordinary = lines(capsys)
    if fmt == "json":
        fast_doc, slow_doc = orjson.loads(held), orjson.loads(ordinary)
        assert fast_doc.keys() == slow_doc.keys() and fast_doc["message"] == slow_doc["message"]
    else:  # the same line but for the milliseconds of its time
        assert held.split(" ", 1)[1] == ordinary.split(" ", 1)[1]


def test_line_log_is_a_record_when_something_else_listens(
        caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from proxy.logs import LineLog

    setup_logging("INFO", "text")
    caplog.set_level(logging.INFO, logger="sluice.functions")

    async def main() -> None:
        LineLog("sluice.functions").info("fn r2 END RequestId: r2")

    asyncio.run(main())
    assert [r.getMessage() for r in caplog.records] == ["fn r2 END RequestId: r2"]
    caplog.set_level(logging.WARNING, logger="sluice.functions")
    LineLog("sluice.functions").info("not at WARNING")
    assert len(caplog.records) == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_line_log_lines_logged_together_keep_their_order_and_share_a_time(
        capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    import asyncio

    from proxy.logs import LineLog

    setup_logging("INFO", fmt)
    fast = LineLog("sluice.functions")

    async def main() -> list[str]:
        fast.info("fn r3 END RequestId: r3", "fn r3 REPORT RequestId: r3\tDuration: 1.00 ms",
                  "fn r3 two\nlines")
        held = capsys.readouterr().err.splitlines()
        await asyncio.sleep(0)
        return held

    assert asyncio.run(main()) == []  # held for the loop iteration
    written = lines(capsys)
    if fmt == "json":
        docs = [orjson.loads(line) for line in written]
        assert [d["message"] for d in docs] == [
            "fn r3 END RequestId: r3", "fn r3 REPORT RequestId: r3\tDuration: 1.00 ms",
            "fn r3 two\nlines"]
        assert len({d["time"] for d in docs}) == 1
    else:
        assert [line.split(" INFO sluice.functions: ", 1)[1] for line in written] == [
            "fn r3 END RequestId: r3", "fn r3 REPORT RequestId: r3\tDuration: 1.00 ms",
            "fn r3 two\\nlines"]  # one event, one line
        assert len({line.split(" ", 1)[0] for line in written}) == 1


def test_line_log_lines_are_records_each_when_something_else_listens(
        caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from proxy.logs import LineLog

    setup_logging("INFO", "text")
    caplog.set_level(logging.INFO, logger="sluice.functions")

    async def main() -> None:
        LineLog("sluice.functions").info("fn r4 END RequestId: r4", "fn r4 REPORT RequestId: r4")

    asyncio.run(main())
    assert [r.getMessage() for r in caplog.records] == ["fn r4 END RequestId: r4",
                                                        "fn r4 REPORT RequestId: r4"]


@pytest.mark.parametrize("buffering", ["buffered", "line", "write_through"])
def test_held_lines_reach_the_file_at_the_end_of_the_iteration(tmp_path: Path,
                                                               buffering: str) -> None:
    import asyncio
    import io

    from proxy.logs import LineLog

    setup_logging("INFO", "text")
    path = tmp_path / "log"
    if buffering == "write_through":  # as sys.stderr: straight to an unbuffered file
        stream: io.TextIOWrapper = io.TextIOWrapper(io.FileIO(path, "w"), write_through=True)
    else:
        stream = open(path, "w", buffering=1 if buffering == "line" else -1)  # noqa: SIM115
    from proxy.logs import _SluiceHandler

    handler = next(h for h in logging.getLogger().handlers if isinstance(h, _SluiceHandler))
    handler.setStream(stream)

    async def main() -> None:
        for n in range(2):
            LineLog("sluice.functions").info(f"fn r{n} START", f"fn r{n} END")
            await asyncio.sleep(0)
            # on disk, not in the stream's buffer
            assert path.read_text().count(" INFO sluice.functions: fn r") == 2 * (n + 1)

    try:
        asyncio.run(main())
    finally:
        setup_logging("INFO", "text")
        stream.close()
