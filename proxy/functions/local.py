"""A function run here: a pool of instances (child processes) for one ``functions:`` entry.

Instances start on demand (a cold start) and are reused while warm, most recently used first,
so that a burst's extra instances go idle and stop after ``idle_timeout_s``. At most
``reservedConcurrency`` invocations run at once (on the machine, when the slots are shared);
the calls beyond it wait in line, each until its own deadline. The pool never holds more
instances than slots: a new one starts only when no warm one is free and a slot is held. An
instance that finishes while calls wait goes straight to the first of them, with its slot: the
waiting caller is not woken until its answer.

Time is kept without a timer per invocation: one deadline tick per function, every
``TICK_S`` while invocations run or calls wait (and never otherwise), ends the callers' waits
at their deadlines and times out instances past their init limit or function timeout, so
either may come up to ``TICK_S`` late. Idle instances are stopped by one sweep timer, due when
the longest idle one has been idle ``idle_timeout_s``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import secrets
import sys
import time
from typing import TYPE_CHECKING

from proxy.config.model import AwsSettings, FunctionConfig
from proxy.functions.arn import FunctionTarget
from proxy.functions.base import Function, FunctionUnavailable, InvokeResult, NoInstance
from proxy.functions.concurrency import Slots
from proxy.functions.instance import Instance, Invocation
from proxy.logs import LineLog

if TYPE_CHECKING:
    from proxy.functions.metrics import FunctionMetrics

__all__ = ["TICK_S", "LocalFunction"]

log = logging.getLogger("sluice.functions")
# START/END/REPORT and the functions' output: lines per invocation, on the cheap path
lines = LineLog("sluice.functions")

# How often a call waiting for a slot that other workers hold looks again (shared slots only:
# a release in another process wakes nobody here). Only while calls wait.
_SHARED_RETRY_S = 0.005
# The deadline tick's period: how late a caller's deadline or a function timeout may be seen.
TICK_S = 0.01
_INFO = logging.INFO


def _request_id() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class LocalFunction(Function):
    __slots__ = ("_argv", "_base_env", "_closed", "_idle", "_idle_timeout_s", "_instances",
                 "_loop", "_metrics", "_none_left", "_queue", "_retry", "_slots", "_sweep",
                 "_tasks", "_tick", "arn")

    def __init__(self, config: FunctionConfig, *, slots: Slots, aws: AwsSettings,
                 idle_timeout_s: float, metrics: FunctionMetrics | None = None) -> None:
        super().__init__(config)
        self._slots = slots
        self._metrics = metrics
        self._idle_timeout_s = idle_timeout_s
        # warm and free, longest idle left, most recently used right
        self._idle: collections.deque[Instance] = collections.deque()
        self._instances: set[Instance] = set()
        # calls waiting for a slot, in order (a done waiter: expired or cancelled, skipped)
        self._queue: collections.deque[Invocation] = collections.deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry: asyncio.TimerHandle | None = None
        self._tick: asyncio.TimerHandle | None = None  # the deadline tick, while calls run
        self._sweep: asyncio.TimerHandle | None = None  # the idle sweep, while any is idle
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._none_left: asyncio.Event | None = None  # set when the last instance is gone
        self.arn = FunctionTarget(config.name, aws.region, aws.account_id, None).arn
        if config.handler is not None:
            python = config.interpreter or sys.executable
            # -s: no user site-packages, as in Lambda; awslambdaric imports the handler
            self._argv: tuple[str, ...] = (python, "-s", "-m", "awslambdaric", config.handler)
        else:
            self._argv = config.command
        self._base_env = _environment(config, aws.region)
        if metrics is not None:
            metrics.watch(config.name, lambda: slots.local)

    def describe(self) -> str:
        c = self.config
        how = f"python {c.handler}" if c.handler else " ".join(c.command)
        reserved = "" if c.reserved_concurrency is None else \
            f", reservedConcurrency {c.reserved_concurrency}"
        return f"local: {how} in {c.code_uri} (timeout {c.timeout_s} s, {c.memory_size} MB" \
               f"{reserved})"

    @property
    def instances(self) -> int:
        """Live instances (busy, idle or starting)."""
        return len(self._instances)

    @property
    def ticking(self) -> bool:
        """Whether the deadline tick is armed: only while invocations run or calls wait."""
        return self._tick is not None

    @property
    def pids(self) -> list[int]:
        return [i.pid for i in self._instances if i.pid is not None]

    # --- invoke ----------------------------------------------------------------------------

    async def invoke(self, payload: bytes, *, deadline: float, trace_id: str = "",
                     function_arn: str | None = None, client_context: str | None = None,
                     cognito_identity: str | None = None) -> InvokeResult:
        if self._closed:
            raise FunctionUnavailable(f"function {self.name} is stopped")
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter: asyncio.Future[InvokeResult] = loop.create_future()
        invocation = Invocation(_request_id(), payload, trace_id, function_arn or self.arn,
                                client_context, cognito_identity, deadline, waiter)
        if self._slots.try_acquire():
            self._run(invocation)
        else:
            if self._metrics is not None:
                self._metrics.throttled(self.name)
            if self._slots.limit == 0:
                raise FunctionUnavailable(f"function {self.name} has reserved concurrency 0")
            self._queue.append(invocation)
            if self._slots.shared and self._retry is None:
                self._retry = loop.call_later(_SHARED_RETRY_S, self._retry_shared)
        if self._tick is None:
            self._tick = loop.call_later(TICK_S, self._check)
        # past the deadline (or cancelled) the caller stops waiting; the invocation goes on
        # without it, as Lambda's does when API Gateway gives up: its end releases the slot
        return await waiter

    def _run(self, invocation: Invocation) -> None:
        """Start ``invocation`` on a warm instance, else a new one; a slot is held for it."""
        idle = self._idle
        if idle:
            idle.pop().assign(invocation)
            return
        loop = self._loop
        assert loop is not None
        instance = Instance(self, loop)
        self._instances.add(instance)
        task = loop.create_task(instance.boot(invocation, self._argv, self.config.code_uri,
                                              self._env_for))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_waiting(self) -> Invocation | None:
        """The first call still waiting for a slot, taken out of the line."""
        queue = self._queue
        while queue:
            invocation = queue.popleft()
            if not invocation.waiter.done():
                return invocation
        return None

    def _retry_shared(self) -> None:
        self._retry = None
        while self._queue and self._slots.try_acquire():
            invocation = self._next_waiting()
            if invocation is None:
                self._slots.release()
                break
            self._run(invocation)
        if self._queue and self._loop is not None:
            self._retry = self._loop.call_later(_SHARED_RETRY_S, self._retry_shared)

    def _check(self) -> None:
        """The deadline tick: callers past their deadline stop waiting, instances past their
        init limit or timeout are timed out; again in ``TICK_S`` while anything runs."""
        self._tick = None
        loop = self._loop
        if loop is None:
            return
        self.check_deadlines(loop.time())
        if self._slots.local or self._queue:
            self._tick = loop.call_later(TICK_S, self._check)

    def check_deadlines(self, now: float) -> None:
        """What the tick does at loop time ``now`` (a test may call it with its own clock)."""
        name = self.name
        for instance in tuple(self._instances):
            invocation = instance.current
            if invocation is not None:
                if now >= invocation.deadline:
                    _expire(invocation.waiter, name, "no result")
                instance.check(now)
        queue = self._queue
        if queue:
            ended = False
            for invocation in queue:
                if now >= invocation.deadline:
                    _expire(invocation.waiter, name, "no instance")
                ended = ended or invocation.waiter.done()
            if ended:  # expired or cancelled: out of the line
                live = [i for i in queue if not i.waiter.done()]
                queue.clear()
                queue.extend(live)

    # --- what instances report -------------------------------------------------------------

    def _env_for(self, port: int) -> dict[str, str]:
        env = dict(self._base_env)
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = \
            time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + secrets.token_hex(16)
        return env

    def started(self, invocation: Invocation) -> None:
        if log.isEnabledFor(_INFO):
            rid = invocation.request_id
            lines.info(f"{self.name} {rid} START RequestId: {rid} Version: $LATEST")

    def finished(self, instance: Instance, invocation: Invocation, result: InvokeResult,
                 reusable: bool) -> None:
        waiter = invocation.waiter
        if not waiter.done():
            waiter.set_result(result)
        if self._metrics is not None:
            self._metrics.invoked(self.name, result)
        if log.isEnabledFor(_INFO):
            self._report(instance, result)
        reuse = reusable and not self._closed
        if not reuse:
            instance.stop()  # nothing when it is gone already
        # the slot goes to the first caller waiting, on this instance when it can go on
        following = self._next_waiting() if self._queue else None
        if following is not None:
            if reuse:
                instance.assign(following)
            else:
                self._run(following)
            return
        if reuse:
            self._park(instance)
        self._slots.release()

    def _park(self, instance: Instance) -> None:
        loop = self._loop
        assert loop is not None
        instance.idle_since = now = loop.time()
        self._idle.append(instance)
        if self._sweep is None:
            self._sweep = loop.call_at(now + self._idle_timeout_s, self._expire_idle)

    def _expire_idle(self) -> None:
        """The idle sweep: stop the instances idle for ``idle_timeout_s``; again when the next
        longest idle one is due."""
        self._sweep = None
        loop = self._loop
        assert loop is not None
        idle = self._idle
        cutoff = loop.time() - self._idle_timeout_s
        while idle and idle[0].idle_since <= cutoff:
            idle.popleft().stop()
        if idle:
            self._sweep = loop.call_at(idle[0].idle_since + self._idle_timeout_s,
                                       self._expire_idle)

    def _report(self, instance: Instance, result: InvokeResult) -> None:
        rid = result.request_id
        duration = result.duration_ms
        init = "" if result.init_duration_ms is None else \
            f"\tInit Duration: {result.init_duration_ms:.2f} ms"
        lines.info(f"{self.name} {rid} END RequestId: {rid}",
                   f"{self.name} {rid} REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\t"
                   f"Billed Duration: {max(1, math.ceil(duration))} ms\t"
                   f"Memory Size: {self.config.memory_size} MB\t"
                   f"Max Memory Used: {instance.max_memory_mb()} MB{init}")

    def gone(self, instance: Instance) -> None:
        """Its process is gone. Only an idle one that exited on its own can still be in the
        warm list (the idle sweep and aclose take out those they stop; a busy or starting one
        is never in it): once per instance, a scan of at most its function's idle ones."""
        self._instances.discard(instance)
        with contextlib.suppress(ValueError):
            self._idle.remove(instance)
        if not self._instances and self._none_left is not None:
            self._none_left.set()

    def line(self, request_id: str, text: str) -> None:
        lines.info(f"{self.name} {request_id} {text}")

    # --- shutdown --------------------------------------------------------------------------

    async def aclose(self, grace_s: float = 0.0) -> None:
        """Stop every instance and wait (a few seconds at most) until each process is gone.
        Calls in flight get up to ``grace_s`` to finish; past it they are answered as killed."""
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for invocation in self._queue:
            if not invocation.waiter.done():
                invocation.waiter.set_exception(
                    FunctionUnavailable(f"function {self.name} is stopped"))
        self._queue.clear()
        for task in tuple(self._tasks):
            await asyncio.wait({task}, timeout=5)
        for instance in self._idle:
            instance.stop()
        self._idle.clear()
        none_left = self._none_left = self._none_left or asyncio.Event()
        for wait_s in (grace_s, 5.0):
            if self._instances:
                # instance exits arrive through the loop's child watcher
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(none_left.wait(), wait_s)
            for instance in tuple(self._instances):
                instance.stop()
        for handle in (self._tick, self._sweep):
            if handle is not None:
                handle.cancel()
        self._tick = self._sweep = None


def _expire(waiter: asyncio.Future[InvokeResult], name: str, what: str) -> None:
    if not waiter.done():
        waiter.set_exception(NoInstance(f"function {name}: {what} before the deadline"))


def _environment(config: FunctionConfig, region: str) -> dict[str, str]:
    """What Lambda sets in an execution environment, then the configured variables."""
    runtime = config.runtime or (
        f"python{sys.version_info.major}.{sys.version_info.minor}" if config.handler else None)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": config.code_uri,
        "LAMBDA_RUNTIME_DIR": config.code_uri,
    }
    if runtime is not None:
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
    if config.handler is not None:
        env["_HANDLER"] = config.handler
        env["PYTHONPATH"] = config.code_uri
    else:  # a command runs, with no handler: the variable is set all the same, empty
        env["_HANDLER"] = ""
    # the role's credentials in Lambda; here the gateway's own, when it has them
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        value = os.environ.get(name)
        if value:
            env[name] = value
    env.update(config.environment)
    return env
