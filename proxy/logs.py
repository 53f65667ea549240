"""The gateway's own logs (start, listening, reload, store fallback, shutdown) on stderr.

Modules log through ``logging.getLogger("sluice.<module>")``; :func:`setup_logging` decides the
level and the shape: ``text`` (one line per event, for people) or ``json`` (one object per
line with ``time``, ``level``, ``logger``, ``message`` and every ``extra`` field, for
collectors). A traceback stays inside its event's line.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import logging
import sys
import time
from typing import Any

import orjson

__all__ = ["FORMATS", "LEVELS", "LineLog", "flush_logs", "setup_logging", "utc_stamp"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")

# what every LogRecord carries; anything else on a record came from `extra=`
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}


_second = -1
_second_text = ""
# ".000Z" to ".999Z": a lookup instead of formatting the milliseconds, which was 2.3k of the 5.9k
# instructions a timestamp cost (callgrind)
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


def _timestamp(record: logging.LogRecord) -> str:
    return utc_stamp(record.created)


def utc_stamp(created: float) -> str:
    """``created`` (epoch seconds) as ``2026-11-29T21:49:23.123Z``, as the log lines show it."""
    global _second, _second_text
    seconds = int(created)
    if seconds != _second:  # strftime once a second: most lines share one
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second = seconds
    return _second_text + _MILLIS[int((created - seconds) * 1000)]


_PLAIN = len(_RECORD_ATTRS - {"message", "asctime", "taskName"})


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    attrs = vars(record)
    if len(attrs) <= _PLAIN:  # no extra= given: nearly every record
        return {}
    return {k: v for k, v in attrs.items() if k not in _RECORD_ATTRS}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack_info"] = record.stack_info
        # default=str: an extra that JSON cannot hold (a Path, an exception) is still logged
        return orjson.dumps(doc, default=str).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info)
        # one event, one line: a newline in a message or traceback must not start a fake event
        return line.replace("\r", "\\r").replace("\n", "\\n")


class _SluiceHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so a second setup_logging() replaces it instead of doubling every line.

    On the event loop's thread, INFO and DEBUG lines are written once per loop iteration, all
    together, instead of a write (a syscall) each: a Lambda invocation logs three (START, END,
    REPORT). WARNING and above, and lines from other threads or with no loop, are written at
    once. Whatever is held is written at exit (:func:`flush_logs`).
    """

    def __init__(self, stream: Any, json: bool = False) -> None:
        super().__init__(stream)
        self._held: list[str] = []
        self._json = json  # the format's shape, for lines formatted by hold()
        self._unbuffered: Any = None  # the stream, once known to need no flush after a write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        if record.levelno < logging.WARNING:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                if not self._held:
                    loop.call_soon(self.flush_held)
                self._held.append(line)
                return
        self.flush_held()
        self._write(line)

    def hold(self, name: str, messages: tuple[str, ...]) -> bool:
        """INFO lines of logger ``name``, one per message, formatted here and held for the loop
        iteration; False when no loop runs on this thread (the caller logs them the ordinary
        way)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        stamp = utc_stamp(time.time())
        held = self._held
        if not held:
            loop.call_soon(self.flush_held)
        if self._json:
            for message in messages:
                held.append(orjson.dumps({"time": stamp, "level": "INFO", "logger": name,
                                          "message": message}).decode() + "\n")
            return True
        prefix = f"{stamp} INFO {name}: "
        for message in messages:
            if "\n" in message or "\r" in message:  # one event, one line, as the formatter
                message = message.replace("\r", "\\r").replace("\n", "\\n")
            held.append(f"{prefix}{message}\n")
        return True

    def flush_held(self) -> None:
        held = self._held
        if held:
            self._held = []
            self._write("".join(held))

    def _write(self, text: str) -> None:
        try:
            stream = self.stream
            stream.write(text)
            # stderr has written it: the handler's flush would take its lock to flush again,
            # ~3k instructions of a held batch's ~10k (callgrind)
            if stream is not self._unbuffered:
                if _flushes_itself(stream):
                    self._unbuffered = stream
                else:
                    self.flush()
        except Exception:  # a broken stderr must not break a request
            self.handleError(logging.makeLogRecord({"msg": text}))


def _flushes_itself(stream: Any) -> bool:
    """Whether writing whole lines to ``stream`` puts them in its file with no flush: a
    line-buffered text stream, or one that writes through to an unbuffered file (sys.stderr)."""
    if getattr(stream, "line_buffering", False):
        return True
    return bool(getattr(stream, "write_through", False)) and \
        isinstance(getattr(stream, "buffer", None), io.RawIOBase)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send all logs at ``level`` and above to stderr as ``fmt`` (``text`` or ``json``)."""
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"log level {level!r}: allowed are {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: allowed are {', '.join(FORMATS)}")
    # Neither format shows the caller, the thread or the process: without these a record does
    # not walk the stack to find its caller nor look up its thread and process (a line per
    # Lambda invocation made three records, 39% of a warm AWS_PROXY request's instructions
    # at INFO: 711k against 437k with them off, callgrind)
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _SluiceHandler)]:
        root.removeHandler(old)
    handler = _SluiceHandler(sys.stderr, json=fmt == "json")
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root.addHandler(handler)
    root.setLevel(name)
    # aiohttp logs every request on aiohttp.access; the gateway writes its own access log
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))


class LineLog:
    """``info`` for lines logged per request (a Lambda invocation's START, END and REPORT, a
    function's output), at a fraction of a ``logging`` record's cost.

    When the gateway's own handler is the only one that would see the line (``sluice serve``:
    nothing else is configured), the line is formatted here and held with that handler's lines
    for the loop iteration. Otherwise (another handler on the way, as pytest's ``caplog``; no
    running loop; logging not set up) it is an ordinary ``logging`` record, so nothing that
    listens to the logger misses it. A LogRecord through the logger costs ~11 us with a
    NullHandler and ~17 us through ours; three lines an invocation were a third of a warm
    AWS_PROXY invocation's CPU in the caller (158 us against 107 us without them).
    """

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger = logging.getLogger(name)

    def info(self, *messages: str) -> None:
        """Each message an INFO line, in order (lines logged together pay for one lookup of
        the handler and one timestamp: an invocation's END and REPORT)."""
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = _only_handler(logger)
        if handler is None or not handler.hold(self._name, messages):
            for message in messages:
                logger.info("%s", message)


def _only_handler(logger: logging.Logger) -> _SluiceHandler | None:
    """Our handler, when it is the only handler a record of ``logger`` would reach."""
    found: _SluiceHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None or not isinstance(handler, _SluiceHandler):
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


def flush_logs() -> None:
    """Write the lines held for the current loop iteration (at exit; before ``os._exit``)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _SluiceHandler):
            handler.flush_held()


atexit.register(flush_logs)
