"""Access logs: ``accessLogSettings.format`` compiled once, lines written off the event loop.

A format is literal text with ``$context.xxx`` variables (spec 7.4); an unknown or unset
variable is written ``-``. ``compile_format`` turns it into one generated function returning
one f-string, so a line costs no call per variable.

Values are escaped for the format they land in, so a client cannot break a line: inside a JSON
format (one that starts with ``{``) as JSON string content, inside an XML format (starts with
``<``) as XML text, elsewhere control characters are written as JSON-style escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, cast

from proxy.context import ClfTime, RequestContext, Variable, elapsed_ms, lookup

__all__ = ["PRESETS", "AccessLog", "compile_format"]

log = logging.getLogger("sluice.accesslog")

# The API Gateway console's examples (DG set-up-logging).
PRESETS: dict[str, str] = {
    "CLF": (
        "$context.identity.sourceIp $context.identity.caller $context.identity.user"
        ' [$context.requestTime] "$context.httpMethod $context.resourcePath $context.protocol"'
        " $context.status $context.responseLength $context.requestId $context.extendedRequestId"
    ),
    "JSON": (
        '{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId",'
        ' "ip": "$context.identity.sourceIp", "caller":"$context.identity.caller",'
        ' "user":"$context.identity.user", "requestTime":"$context.requestTime",'
        ' "httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath",'
        ' "status":"$context.status", "protocol":"$context.protocol",'
        ' "responseLength":"$context.responseLength" }'
    ),
    "XML": (
        '<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip>'
        " <caller>$context.identity.caller</caller> <user>$context.identity.user</user>"
        " <requestTime>$context.requestTime</requestTime>"
        " <httpMethod>$context.httpMethod</httpMethod>"
        " <resourcePath>$context.resourcePath</resourcePath> <status>$context.status</status>"
        " <protocol>$context.protocol</protocol>"
        " <responseLength>$context.responseLength</responseLength> </request>"
    ),
    "CSV": (
        "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,"
        "$context.requestTime,$context.httpMethod,$context.resourcePath,$context.protocol,"
        "$context.status,$context.responseLength,$context.requestId"
    ),
}

Escape = Callable[[str], str]

# -- escaping ---------------------------------------------------------------------------------

_CONTROL = {c: f"\\u{c:04x}" for c in range(0x20)} | {
    0x7F: "\\u007f", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r",
}
_TEXT_TABLE = str.maketrans(_CONTROL)
_JSON_TABLE = str.maketrans(_CONTROL | {ord('"'): '\\"', ord("\\"): "\\\\"})
_XML_TABLE = str.maketrans(
    _CONTROL | {ord("<"): "&lt;", ord(">"): "&gt;", ord("&"): "&amp;", ord('"'): "&quot;",
                ord("'"): "&apos;"}
)


# str.translate allocates even when nothing changes, so test first: isprintable() and `in` are
# C scans; with them a clean 40-char value costs ~100 ns against ~180 ns for a regex search.
def _escape_text(value: str) -> str:
    return value if value.isprintable() else value.translate(_TEXT_TABLE)


def _escape_json(value: str) -> str:
    if value.isprintable() and '"' not in value and "\\" not in value:
        return value
    return value.translate(_JSON_TABLE)


def _escape_xml(value: str) -> str:
    if value.isprintable() and not any(c in value for c in "<>&\"'"):
        return value
    return value.translate(_XML_TABLE)


_ESCAPES = {"text": _escape_text, "json": _escape_json, "xml": _escape_xml}

# -- compiling ------------------------------------------------------------------------------

# What each kind of $context variable (proxy.context.VARIABLES) becomes in the generated line;
# {a} is the expression reading its value. An int is formatted by the f-string itself (no call
# to str), the gateway's own text needs no escaping, and text a client or the config shapes is
# escaped for the format, "-" when unset or empty.
_INLINE: dict[str, str] = {
    "id": '({a} or "-")',
    "int": '("-" if (v := {a}) is None else v)',
    "status": '({a} or "-")',
    "millis": '("-" if (v := {a}) is None else round(v))',
    "elapsed": "round(_elapsed(ctx))",
    "text": '(_esc(v) if (v := {a}) else "-")',
    # AWS: the quoted value, meant to stand unquoted in a JSON format
    "quoted": '(_quote(v) if (v := {a}) is not None else "-")',
    "prefix": '(_esc(v.split(".", 1)[0]) if (v := {a}) else "-")',
    # the CLF time of the request's second, cached for the last second
    "clf": "(_rt.text if {a} // 1000 == _rt.second else _rt({a}))",
}


def _reader(variable: Variable) -> str:
    """The expression reading a variable's value: its attribute, then along its path (None on
    the way is unset), then its entry (``ctx.auth.values.get('tier')`` for authorizer.tier)."""
    if not variable.path and variable.key is None:
        return f"ctx.{variable.attr}"
    steps = [f"(o := ctx.{variable.attr}) is None"]
    steps += [f"(o := o.{name}) is None" for name in variable.path[:-1]]
    last = f"o.{variable.path[-1]}" if variable.path else "o"
    if variable.key is not None:
        if variable.path:
            steps.append(f"(o := {last}) is None")
        last = f'o.get("{variable.key}")'  # a name of the format: [A-Za-z0-9_.]+
    return f"(None if {' or '.join(steps)} else {last})"

# A variable name is dotted identifier segments; a trailing "." stays literal text. The whole
# name is looked up (the longest match), so "$context.integrationLatency" is never read as
# "$context.integration" + "Latency".
_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")


def compile_format(fmt: str) -> Callable[[RequestContext], str]:
    """Compile an access log format (or a :data:`PRESETS` name) into ``ctx -> line``.

    A line of the JSON preset costs ~0.6 us (timeit, 2-core machine; 1.0 us with an escape
    call per text variable and a call for requestTime, 1.7 us with one % template, 3.2 us with
    a getter call per variable).
    """
    # a format is one line: a newline in it would split every record in two
    fmt = PRESETS.get(fmt, fmt).replace("\r", " ").replace("\n", " ")
    head = fmt.lstrip()[:1]
    escape = _ESCAPES["json" if head == "{" else "xml" if head == "<" else "text"]
    # One generated function returning one f-string: the format's literal text (and the "-" of
    # variables never set here) as string constants (repr: no config text becomes code), the
    # gateway's own values (ids, address, protocol, numbers: nothing to escape) and the text
    # variables read inline, a call only for the few computed ones. Expressions come from
    # this module, never from the format.
    namespace: dict[str, object] = {"_esc": escape, "_mem": {}, "_rt": ClfTime(),
                                    "_elapsed": elapsed_ms,
                                    "_quote": lambda v: f'"{escape(v)}"'}
    memo = cast(dict[str, str], namespace["_mem"])

    def escape_and_keep(value: str) -> str:
        escaped = escape(value)
        if len(memo) < _MEMO_SIZE:
            memo[value] = escaped
        return escaped

    namespace["_mesc"] = escape_and_keep
    pieces = []
    text = ""
    pos = 0
    for match in _VARIABLE.finditer(fmt):
        text += fmt[pos:match.start()]
        pos = match.end()
        variable = lookup(match.group(1))
        if variable is None or variable.attr is None:
            # known to AWS and never set here, or unknown: part of the literal text
            text += "-"
            continue
        attr = variable.attr
        if variable.kind == "text" and attr in _FEW_VALUES:  # escaped once per distinct value
            inline = f'((_mem.get(v) or _mesc(v)) if (v := ctx.{attr}) else "-")'
        else:
            inline = _INLINE[variable.kind].format(a=_reader(variable))
        pieces.append(repr(text))
        pieces.append(f"f'{{{inline}}}'")
        text = ""
    pieces.append(repr(text + fmt[pos:]))
    source = f"def render(ctx):\n    return ({' '.join(pieces)})\n"
    exec(source, namespace)
    return cast(Callable[[RequestContext], str], namespace["render"])


# Text variables whose values come from a small set (the config's names, HTTP methods): their
# escaped form is kept, up to _MEMO_SIZE values a format, so a line looks it up instead of
# calling the escape (~60 ns each).
_FEW_VALUES = frozenset({"api_id", "stage", "http_method", "resource_path", "resource_id",
                         "error_response_type"})
_MEMO_SIZE = 4096

# -- writing ----------------------------------------------------------------------------------

_STOP = object()
# Every batch makes the writer thread take the GIL from the event loop twice, so batches are
# few: ~4 a second at 5,000 requests a second (~1,250 lines, ~400 kB of JSON lines).
_BATCH = 4096  # lines handed to the writer thread at once, at most
_HAND_OVER_S = 0.25  # and at the latest this long after the first of them
_RETRY_AFTER = 1.0  # seconds between attempts to reopen a broken file


class AccessLog:
    """Lines to ``stdout``, ``stderr`` or a file (appended), written by one background thread.

    :meth:`write` never blocks and never raises: when the queue is full, after :meth:`aclose`,
    or while the destination is broken, the line is dropped and counted in :attr:`dropped`.
    A broken destination is logged once.
    """

    def __init__(self, destination: str, *, max_queue: int = 65_536) -> None:
        self.destination = destination
        self.written = 0
        self._dropped_full = 0  # event-loop thread only
        self._dropped_io = 0  # writer thread only
        self._closed = False
        self._reported = False
        self._stream: IO[Any] | None = None  # stdout or stderr
        self._fd: int | None = None  # a file, opened by the writer thread
        if destination == "stdout":
            self._stream = sys.stdout
        elif destination == "stderr":
            self._stream = sys.stderr
        self._max_queue = max_queue
        self._queued_lines = 0  # lines handed over and not yet written (approximate)
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sluice-accesslog", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Lines not written: queue full, destination broken, or written after close."""
        return self._dropped_full + self._dropped_io

    def write(self, line: str) -> None:
        """Queue one line (without its newline)."""
        if self._closed:
            self._dropped_full += 1
            return
        # Lines gather here, on the event-loop thread, and go to the writer thread a batch at a
        # time: a put per line woke the writer per line, and its GIL hand-offs cost the loop
        # ~24 us a request (bench observed vs bare: 7,774 vs 10,750 rps).
        pending = self._pending
        pending.append(line)
        if len(pending) >= _BATCH:
            self._hand_over()
        elif len(pending) == 1:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a tool or a test): hand over at once
                self._hand_over()
            else:
                self._timer = loop.call_later(_HAND_OVER_S, self._hand_over)

    def _hand_over(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        if self._queued_lines + len(batch) > self._max_queue:
            self._dropped_full += len(batch)
            return
        self._queued_lines += len(batch)
        # Joined and encoded here, once a batch (C loops, ~0.1 ms for 500 lines), so the writer
        # thread runs almost no Python: all it does is a write that releases the GIL. With the
        # join and a text stream in the thread, its GIL hand-offs cost the loop ~11% of the
        # bench observed scenario's throughput.
        data = ("\n".join(batch) + "\n").encode("utf-8", "backslashreplace")
        self._queue.put_nowait((len(batch), data))

    async def aclose(self) -> None:
        """Write what is queued, flush, close the file; later writes are dropped."""
        if self._closed:
            return
        self._hand_over()
        self._closed = True
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        # This thread runs as little Python as it can: SimpleQueue.get and os.write are C
        # calls that release the GIL while they wait. Each time it takes the GIL back, the
        # event loop must hand it over and wait. With queue.Queue, a buffered file and batches
        # every 0.05 s, the loop thread made ~280 voluntary context switches in 6 s of the
        # observed bench (~12 with no access log) and once ran only 554 of 600 ticks; with
        # this loop and batches every 0.25 s, ~60.
        get, get_nowait = self._queue.get, self._queue.get_nowait
        broken_at: float | None = None
        while True:
            items = [get()]
            while not self._queue.empty():
                items.append(get_nowait())
            stop = items[-1] is _STOP
            batches = [cast(tuple[int, bytes], item) for item in items if item is not _STOP]
            count = sum(n for n, _ in batches)
            self._queued_lines -= count
            if count:
                data = batches[0][1] if len(batches) == 1 else b"".join(d for _, d in batches)
                if broken_at is not None and time.monotonic() - broken_at < _RETRY_AFTER:
                    self._dropped_io += count
                else:
                    broken_at = None if self._emit(count, data) else time.monotonic()
            if stop:
                self._close_file()
                return

    def _emit(self, count: int, data: bytes) -> bool:
        try:
            stream = self._stream
            if stream is None:  # a file: appended through its descriptor, no Python buffer
                fd = self._fd
                if fd is None:
                    fd = self._fd = os.open(self.destination,
                                            os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            else:
                raw = getattr(stream, "buffer", None)  # sys.stdout and sys.stderr are text
                if raw is not None:
                    stream.flush()
                    raw.write(data)
                    raw.flush()
                elif isinstance(stream, io.TextIOBase):  # a stand-in without a buffer (pytest)
                    stream.write(data.decode("utf-8", "replace"))
                    stream.flush()
                else:
                    stream.write(data)
                    stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: write to a closed file
            self._dropped_io += count
            if not self._reported:
                self._reported = True
                log.error("access log destination %s is not writable (%s): dropping lines",
                          self.destination, exc, extra={"destination": self.destination})
            self._close_file()
            return False
        self.written += count
        return True

    def _close_file(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._stream is not None:  # stdout or stderr: not ours to close
            with contextlib.suppress(OSError, ValueError):
                self._stream.flush()
