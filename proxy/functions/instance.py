"""One execution environment: a child process running a runtime that speaks the Runtime API.

Its life, as Lambda's: *init* from the spawn until the runtime first asks for ``/next`` (the
init duration; at most ``INIT_TIMEOUT_S``), then one invocation at a time. An invocation ends
with the runtime's ``/response`` or ``/error``, or with Lambda's own error document when the
function runs past its timeout (``Sandbox.Timedout``; the process is killed), the process exits
(``Runtime.ExitError``) or init fails (the runtime's ``/init/error`` document). After any of
those three the instance is gone and the next call starts a new one.

An instance arms no timer of its own: it keeps ``timeout_at``, the loop time its init limit or
its invocation's timeout passes, and its function's deadline tick (``proxy.functions.local``)
calls :meth:`Instance.check` while invocations run. An idle instance parks its runtime's
``/next`` request and its function's idle sweep stops it: it costs no CPU.

No orphan: the runtime is started through ``setpriv --pdeathsig KILL`` (util-linux, in every
Debian), so the kernel kills it when the gateway process dies, even by SIGKILL; it runs in its
own session, and stopping an instance kills that whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import orjson

from proxy.functions.base import InvokeResult
from proxy.functions.runtime_api import (
    ACCEPTED,
    INVALID_REQUEST_ID,
    RuntimeApiConnection,
    event_head,
    invalid_state,
)
from proxy.logs import utc_stamp

if TYPE_CHECKING:
    from proxy.config.model import FunctionConfig


class InstanceOwner(Protocol):
    """What an instance tells the function it runs for (``proxy.functions.local``); a protocol,
    so the two modules do not import each other."""

    @property
    def config(self) -> FunctionConfig: ...

    def started(self, invocation: Invocation) -> None: ...

    def finished(self, instance: Instance, invocation: Invocation, result: InvokeResult,
                 reusable: bool) -> None: ...

    def gone(self, instance: Instance) -> None: ...

    def line(self, request_id: str, text: str) -> None: ...

__all__ = ["INIT_TIMEOUT_S", "Instance", "Invocation"]

log = logging.getLogger("sluice.functions")

# Lambda bounds the init phase of an on-demand function at 10 s.
INIT_TIMEOUT_S = 10.0
_SETPRIV = shutil.which("setpriv")
_UNHANDLED = "Unhandled"  # X-Amz-Function-Error: every error the runtime reports is "Unhandled"

_STARTING, _READY, _GONE = 0, 1, 2


class Invocation:
    """One call, from its caller to its answer: waiting for a slot, then on an instance."""

    __slots__ = ("client_context", "cognito_identity", "deadline", "delivered_at",
                 "function_arn", "payload", "request_id", "trace_id", "waiter")

    def __init__(self, request_id: str, payload: bytes, trace_id: str, function_arn: str,
                 client_context: str | None, cognito_identity: str | None, deadline: float,
                 waiter: asyncio.Future[InvokeResult]) -> None:
        self.request_id = request_id
        self.payload = payload
        self.trace_id = trace_id
        self.function_arn = function_arn
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.deadline = deadline  # the caller's (loop time): its wait ends then, not the call
        self.waiter = waiter
        self.delivered_at: float | None = None  # perf_counter() when the runtime got it


def _signal_name(number: int) -> str:
    # as Lambda (Go's syscall.Signal.String) words it: "killed", "segmentation fault", ...
    try:
        return (signal.strsignal(number) or f"signal {number}").lower()
    except ValueError:
        return f"signal {number}"


def error_document(error_type: str, message: str) -> bytes:
    return orjson.dumps({"errorType": error_type, "errorMessage": message})


class _Pipes(asyncio.SubprocessProtocol):
    """The child's stdout and stderr, a log line each, and its exit."""

    __slots__ = ("_instance", "_partial")

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._partial: dict[int, bytes] = {}

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        data = self._partial.pop(fd, b"") + data
        lines = data.split(b"\n")
        if lines[-1]:
            self._partial[fd] = lines[-1]
        for line in lines[:-1]:
            self._instance.output(line)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        rest = self._partial.pop(fd, b"")
        if rest:
            self._instance.output(rest)

    def process_exited(self) -> None:
        self._instance.exited()


class Instance:
    __slots__ = ("_conn", "_current", "_fn", "_init_reported", "_last_id", "_loop", "_memory_mb",
                 "_memory_read_at", "_port", "_server", "_spawned_at", "_state", "_status_fd",
                 "_transport", "idle_since", "init_ms", "pid", "timeout_at")

    def __init__(self, fn: InstanceOwner, loop: asyncio.AbstractEventLoop) -> None:
        self._fn = fn
        self._loop = loop
        self._state = _STARTING
        self._current: Invocation | None = None
        self._conn: RuntimeApiConnection | None = None  # its parked /next, when idle
        self._server: asyncio.Server | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        # loop time the init limit, then the delivered invocation's timeout, passes (checked by
        # the function's deadline tick); inf while neither runs
        self.timeout_at = math.inf
        self.idle_since = 0.0  # loop time it last went idle (the function's idle sweep)
        self._spawned_at = 0.0
        self._init_reported = False
        self._last_id = "-"  # the last invocation delivered: its output may arrive after it ends
        self._status_fd = -1
        self._memory_mb = 0  # VmHWM as last read, and when (loop time)
        self._memory_read_at = -1.0
        self._port = 0
        self.init_ms: float | None = None
        self.pid: int | None = None

    @property
    def alive(self) -> bool:
        return self._state != _GONE

    @property
    def current(self) -> Invocation | None:
        """The invocation it runs (or starts for), None when idle."""
        return self._current

    # --- life ------------------------------------------------------------------------------

    async def boot(self, first: Invocation, argv: Sequence[str], cwd: str,
                   env: Callable[[int], dict[str, str]]) -> None:
        """Start the process for ``first`` (a cold start); its answer comes as any other."""
        self._current = first
        loop = self._loop
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", 0))
                sock.listen(8)
            except OSError:
                sock.close()
                raise
            self._port = sock.getsockname()[1]
            self._server = await loop.create_server(lambda: RuntimeApiConnection(self), sock=sock)
            _check_executable(argv[0])  # setpriv would run, then fail with exit status 127
            command = [_SETPRIV, "--pdeathsig", "KILL", "--", *argv] if _SETPRIV else list(argv)
            self._spawned_at = time.perf_counter()
            self.timeout_at = loop.time() + INIT_TIMEOUT_S
            transport, _ = await loop.subprocess_exec(
                lambda: _Pipes(self), *command, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd,
                env=env(self._port), start_new_session=True)
        except OSError as e:
            # Lambda: "Runtime.InvalidEntrypoint" when the bootstrap cannot be run
            self._finish(first, error_document(
                "Runtime.InvalidEntrypoint",
                f"RequestId: {first.request_id} Error: fork/exec {argv[0]}: {e.strerror}"),
                _UNHANDLED, reusable=False)
            self.stop()
            return
        except BaseException:
            self.stop()
            raise
        self._transport = transport
        self.pid = transport.get_pid()
        if self._state == _GONE:  # stopped while it was starting
            self._kill()
            return
        try:
            self._status_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY)
        except OSError:
            self._status_fd = -1

    def assign(self, invocation: Invocation) -> None:
        """Give a warm instance its next invocation."""
        self._current = invocation
        conn = self._conn
        if conn is not None:
            self._conn = None
            self._deliver(conn, invocation)
        # else the runtime is still posting its last answer; its next /next gets this one

    def check(self, now: float) -> None:
        """The deadline tick, at loop time ``now``: past its init limit or its invocation's
        timeout, the invocation is answered as timed out and the process killed."""
        if now >= self.timeout_at:
            self._timed_out()

    def stop(self) -> None:
        """Stop now: kill the process group; an invocation in flight is answered as a crash."""
        if self._state == _GONE:
            return
        self._state = _GONE
        self.timeout_at = math.inf
        self._kill()
        if self._transport is None:
            self._close_server()
        current = self._current
        if current is not None:
            self._finish(current, error_document(
                "Runtime.ExitError",
                f"RequestId: {current.request_id} Error: Runtime exited with error: "
                "signal: killed"), _UNHANDLED, reusable=False)

    def _kill(self) -> None:
        if self.pid is not None and self._transport is not None and \
                self._transport.get_returncode() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._status_fd >= 0:
            os.close(self._status_fd)
            self._status_fd = -1

    def exited(self) -> None:
        """The process is gone (called once, by the subprocess transport)."""
        transport = self._transport
        code = transport.get_returncode() if transport is not None else None
        current = self._current
        if self._state != _GONE:
            self._state = _GONE
            self.timeout_at = math.inf
            if current is not None:
                if code == 0 or code is None:
                    reason = "Runtime exited without providing a reason"
                elif code < 0:
                    reason = f"Runtime exited with error: signal: {_signal_name(-code)}"
                else:
                    reason = f"Runtime exited with error: exit status {code}"
                self._finish(current, error_document(
                    "Runtime.ExitError", f"RequestId: {current.request_id} Error: {reason}"),
                    _UNHANDLED, reusable=False)
        self._close_server()
        if transport is not None:
            transport.close()
        self._fn.gone(self)

    # --- the Runtime API, for this instance's connections ------------------------------------

    def next(self, conn: RuntimeApiConnection) -> None:
        if self._state == _GONE:
            conn.close()
            return
        if self._state == _STARTING:  # the first /next ends init
            self._state = _READY
            self.init_ms = (time.perf_counter() - self._spawned_at) * 1000.0
            self.timeout_at = math.inf
        current = self._current
        if current is None:
            self._conn = conn  # idle: the long poll waits for the next assign
        elif current.delivered_at is None:
            self._deliver(conn, current)
        else:
            conn.write(invalid_state("the runtime asked for /next before answering "
                                     f"{current.request_id}"))

    def _deliver(self, conn: RuntimeApiConnection, invocation: Invocation) -> None:
        fn = self._fn
        timeout_s = fn.config.timeout_s
        deadline_ms = int(time.time() * 1000) + timeout_s * 1000
        payload = invocation.payload
        head = event_head(invocation.request_id, deadline_ms, invocation.function_arn,
                          invocation.trace_id, invocation.client_context,
                          invocation.cognito_identity, len(payload))
        if not conn.send_event(head, payload):
            return  # that connection closed: the runtime's next /next gets it
        invocation.delivered_at = time.perf_counter()
        self._last_id = invocation.request_id
        # checked by the function's tick, not a timer of its own: on uvloop a timer armed and
        # cancelled per invocation costs ~1-2 us, and an invocation armed four (this, the
        # caller's deadline, the slot wait's and the idle timer)
        self.timeout_at = self._loop.time() + timeout_s
        fn.started(invocation)

    def _matching(self, request_id: str) -> Invocation | None:
        current = self._current
        if current is None or current.delivered_at is None or current.request_id != request_id:
            return None
        return current

    def respond(self, request_id: str, body: bytes) -> bytes:
        current = self._matching(request_id)
        if current is None:
            return INVALID_REQUEST_ID
        self._finish(current, body, None)
        return ACCEPTED

    def fail(self, request_id: str, body: bytes, error_type: str | None) -> bytes:
        current = self._matching(request_id)
        if current is None:
            return INVALID_REQUEST_ID
        self._finish(current, body or _unknown_error(error_type), _UNHANDLED)
        return ACCEPTED

    def init_error(self, body: bytes, error_type: str | None) -> bytes:
        if self._state != _STARTING:
            return invalid_state("/init/error after init")
        current = self._current
        self.init_ms = (time.perf_counter() - self._spawned_at) * 1000.0
        # the runtime exits after reporting; Lambda discards the environment either way (an
        # instance finished as not reusable is stopped by its function)
        if current is not None:
            self._finish(current, body or _unknown_error(error_type), _UNHANDLED,
                         reusable=False)
        else:
            self.stop()
        return ACCEPTED

    def lost(self, conn: RuntimeApiConnection) -> None:
        if self._conn is conn:
            self._conn = None

    # --- endings ---------------------------------------------------------------------------

    def _timed_out(self) -> None:
        """Past its init limit (still starting) or its invocation's timeout: the invocation is
        answered as Lambda answers it and, finished as not reusable, the instance stopped."""
        self.timeout_at = math.inf
        current = self._current
        if current is None:  # the tick checks only instances that run (or start for) one
            return
        starting = self._state == _STARTING
        limit_s = INIT_TIMEOUT_S if starting else self._fn.config.timeout_s
        message = f"Task timed out after {limit_s:.2f} seconds"
        if not starting:  # the invocation's log line
            rid = current.request_id
            self._fn.line(rid, f"{utc_stamp(time.time())} {rid} {message}")
        self._finish(current, error_document(
            "Sandbox.Timedout", f"RequestId: {current.request_id} Error: {message}"), _UNHANDLED,
            reusable=False)

    def _finish(self, invocation: Invocation, payload: bytes, function_error: str | None,
                reusable: bool = True) -> None:
        if self._current is not invocation:
            return
        self._current = None
        self.timeout_at = math.inf
        now = time.perf_counter()
        delivered = invocation.delivered_at
        duration_ms = (now - delivered) * 1000.0 if delivered is not None else 0.0
        init_ms = None
        if not self._init_reported:
            self._init_reported = True
            init_ms = self.init_ms if self.init_ms is not None else \
                (now - self._spawned_at) * 1000.0 if self._spawned_at else 0.0
        result = InvokeResult(payload, function_error, invocation.request_id, duration_ms,
                              init_ms)
        self._fn.finished(self, invocation, result, reusable and self._state != _GONE)

    def max_memory_mb(self) -> int:
        """The process's peak resident memory (VmHWM), as REPORT's "Max Memory Used", read at
        most once a second: the kernel builds all of /proc/PID/status for it, ~20 us of the
        gateway's CPU an invocation (a warm AWS_PROXY invocation costs ~110-150 us)."""
        now = self._loop.time()
        if now - self._memory_read_at < 1.0:
            return self._memory_mb
        self._memory_read_at = now
        if self._status_fd < 0:
            return self._memory_mb
        try:
            text = os.pread(self._status_fd, 4096, 0)
        except OSError:
            return self._memory_mb
        at = text.find(b"VmHWM:")
        if at >= 0:
            self._memory_mb = math.ceil(int(text[at + 6:text.index(b"kB", at)]) / 1024)
        return self._memory_mb

    def output(self, line: bytes) -> None:
        # the pipe lags the Runtime API: a line is the last delivered invocation's (or init's)
        text = line.decode("utf-8", "replace")
        # awslambdaric ends the lines of one multi-line entry (a traceback) with "\r"
        for part in text.split("\r"):
            if part:
                self._fn.line(self._last_id, part)


def _check_executable(program: str) -> None:
    path = program if "/" in program else shutil.which(program)
    if path is None or not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, "no such file or directory")
    if not os.access(path, os.X_OK):
        raise PermissionError(errno.EACCES, "permission denied")


def _unknown_error(error_type: str | None) -> bytes:
    # Lambda's answer for an error posted without a body, with the type it accepts: Runtime.*
    # and Function.* kept, anything else Runtime.Unknown (RIE fatalerror)
    kind = error_type or ""
    if not (kind.startswith(("Runtime.", "Function.")) and kind.split(".", 1)[1][:1].isupper()):
        kind = "Function.Unknown" if kind.startswith("Function.") else "Runtime.Unknown"
    return error_document(kind, "Unknown application error occurred")
