"""The gateway's own logs (start, listening, reload, store fallback, shutdown) on stderr.

Modules log through ``logging.getLogger("sluice.<module>")``; :func:`setup_logging` decides the
level and the shape: ``text`` (one line per event, for people) or ``json`` (one object per
line with ``time``, ``level``, ``logger``, ``message`` and every ``extra`` field, for
collectors). A traceback stays inside its event's line.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

__all__ = ["FORMATS", "LEVELS", "setup_logging"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")

# what every LogRecord carries; anything else on a record came from `extra=`
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}


_second = -1
_second_text = ""


def _timestamp(record: logging.LogRecord) -> str:
    global _second, _second_text
    seconds = int(record.created)
    if seconds != _second:  # strftime once a second: most lines share one
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second = seconds
    return f"{_second_text}.{int((record.created - seconds) * 1000):03d}Z"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}


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
    """Ours, so a second setup_logging() replaces it instead of doubling every line."""


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
    handler = _SluiceHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root.addHandler(handler)
    root.setLevel(name)
    # aiohttp logs every request on aiohttp.access; the gateway writes its own access log
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
