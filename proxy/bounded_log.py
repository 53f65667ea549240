"""A logger whose lines are bounded per time window, for what clients can cause at will: what
the HTTP server reports (a malformed request) and requests abandoned by their clients.

aiohttp's request handler logs every request it cannot parse with ``logger.exception``: an
ERROR line with a ~570-byte traceback each, so one client with 8 connections wrote 8 MB in
10 s. This logger takes its place (``web.Server(..., logger=BoundedLog(...))``): a malformed
request is one short WARNING line without a traceback, at most ``per_window`` lines a window,
and the first line after a window that suppressed some says how many. Anything else aiohttp
reports through ``exception`` (a bug) keeps its traceback, under the same bound. The handler
logs client aborts through one too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["BoundedLog"]


class BoundedLog:
    """A stand-in for the ``logging.Logger`` aiohttp's ``RequestHandler`` calls, at most
    ``per_window`` lines each ``window_s`` seconds."""

    __slots__ = ("_clock", "_log", "_per_window", "_sent", "_suppressed", "_window_end",
                 "_window_s")

    def __init__(self, log: logging.Logger | None = None, *, per_window: int = 10,
                 window_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log if log is not None else logging.getLogger("sluice.protocol")
        self._per_window = per_window
        self._window_s = window_s
        self._clock = clock
        self._window_end = 0.0
        self._sent = 0
        self._suppressed = 0

    @property
    def suppressed(self) -> int:
        """Lines held back in the current window."""
        return self._suppressed

    def _admit(self) -> str | None:
        """None when this line is over the bound; else a suffix (empty or a suppressed count)."""
        now = self._clock()
        if now >= self._window_end:
            held = self._suppressed
            self._window_end = now + self._window_s
            self._sent = 0
            self._suppressed = 0
            suffix = f" ({held} similar lines suppressed in the last window)" if held else ""
        else:
            suffix = ""
        if self._sent >= self._per_window:
            self._suppressed += 1
            return None
        self._sent += 1
        return suffix

    def exception(self, msg: str, *args: Any, exc_info: Any = None, **kw: Any) -> None:
        suffix = self._admit()
        if suffix is None:
            return
        if isinstance(exc_info, HttpProcessingError):
            # aiohttp calls ("Error handling request from %s", remote): one line with the
            # parser's reason, cut short, and no traceback
            reason = str(exc_info.message or type(exc_info).__name__)
            self._log.warning("malformed request from %s (answered %s): %s%s",
                              args[0] if args else "-", exc_info.code,
                              reason.replace("\n", " ").replace("\r", " ")[:200], suffix)
            return
        self._log.error((msg % args if args else msg) + suffix, exc_info=exc_info or True)

    def debug(self, msg: str, *args: Any, **kw: Any) -> None:
        # "Error handling request" for garbage on a fresh connection, "Ignored premature client
        # disconnection": at DEBUG they cost nothing unless asked for
        if self._log.isEnabledFor(logging.DEBUG):
            kw.pop("exc_info", None)
            self._log.debug(msg, *args)

    def info(self, msg: str, *args: Any, **kw: Any) -> None:
        suffix = self._admit()
        if suffix is not None:
            self._log.info(msg + suffix, *args)

    def warning(self, msg: str, *args: Any, **kw: Any) -> None:
        suffix = self._admit()
        if suffix is not None:
            self._log.warning(msg + suffix, *args)

    def error(self, msg: str, *args: Any, **kw: Any) -> None:
        suffix = self._admit()
        if suffix is not None:
            self._log.error(msg + suffix, *args)

    def isEnabledFor(self, level: int) -> bool:
        return self._log.isEnabledFor(level)
