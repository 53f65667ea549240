"""Running the gateway: listeners, signals, reload, graceful shutdown, worker processes.

One worker: one process serves the data plane and the admin listener. ``workers: N > 1``: the
parent forks N workers that share the data-plane port (SO_REUSEPORT) and the in-flight counter,
and serves the admin listener itself, with /metrics summing every worker (prometheus-client
multiprocess files). SIGTERM/SIGINT: stop accepting, let in-flight requests finish (bounded by
``server.shutdownTimeoutSeconds``), exit 0. SIGHUP: reload the config file; a bad one is logged
and the running deployment stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import gc
import ipaddress
import logging
import os
import signal
import socket
import tempfile
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path

import orjson
import uvloop
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from proxy.admin import build_admin_app
from proxy.bounded_log import BoundedLog
from proxy.config.loader import format_problems, load_config
from proxy.config.model import Config, HostPort
from proxy.errors import ConfigError, Problem
from proxy.functions.concurrency import SharedConcurrency
from proxy.logs import flush_logs
from proxy.metrics import FLUSH_INTERVAL_S, Metrics
from proxy.response import RawResponse
from proxy.runtime import Runtime
from ratelimit import InFlight

log = logging.getLogger("sluice.server")


@dataclasses.dataclass(frozen=True, slots=True)
class Overrides:
    listen: HostPort | None = None
    admin_listen: HostPort | None = None
    workers: int | None = None
    storage_url: str | None = None


def load(path: str, overrides: Overrides) -> Config:
    """The config file with the command line's overrides; ``ConfigError`` names bad fields."""
    config = load_config(path)
    server = config.server
    if overrides.listen is not None:
        server = dataclasses.replace(server, listen=overrides.listen)
    if overrides.admin_listen is not None:
        server = dataclasses.replace(server, admin_listen=overrides.admin_listen)
    if overrides.workers is not None:
        server = dataclasses.replace(server, workers=overrides.workers)
    config = dataclasses.replace(config, server=server)
    if overrides.storage_url is not None:
        config = dataclasses.replace(
            config, storage=dataclasses.replace(config.storage, url=overrides.storage_url))
    problem = open_admin_problem(config)
    if problem is not None:
        raise ConfigError([problem])
    return config


def open_admin_problem(config: Config) -> Problem | None:
    """The admin API (keys, plans, cache flushes) must not face a network without a token,
    unless the file says so explicitly."""
    server = config.server
    if server.admin_token or server.allow_open_admin or _loopback(server.admin_listen.host):
        return None
    return Problem(config.source, "server.adminListen",
                   f"{server.admin_listen} is not a loopback address and server.adminToken is "
                   "not set: anyone who reaches it could create API keys and flush caches; set "
                   "adminToken, listen on 127.0.0.1, or set server.allowOpenAdmin: true")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only "localhost" is known to stay on this machine
        return False


def run(path: str, overrides: Overrides) -> int:
    """Serve until SIGTERM/SIGINT; the exit status."""
    try:
        config = load(path, overrides)
    except ConfigError as err:
        log.error("config error:\n%s", format_problems(err))
        return 1
    workers = config.server.workers
    if workers == 1:
        return _run_loop(_serve(path, overrides, config, data=True, admin=True))
    return _supervise(path, overrides, config)


def _run_loop(main: object) -> int:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return int(runner.run(main))  # type: ignore[arg-type]


def _tune_gc() -> None:
    """Once serving: what start-up made (config, deployment, modules) moves out of the
    collector's sight, and the youngest generation is collected every 7,000 new objects
    rather than every 700. A proxied GET makes a few hundred; the collector's passes over
    them were 1.2% of its instructions (callgrind), and now too few to show."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 20, 20)


class _RequestHandler(RequestHandler):
    """aiohttp's connection handler, answering what it cannot parse the gateway's way."""

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        # aiohttp's own answer echoes the offending bytes back and names itself in a Server
        # header; AWS's front end does neither. One bounded log line (BoundedLog) either way.
        self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already started: the connection is cut")
        phrase = HTTPStatus(status).phrase if status in _STATUSES else "Error"
        return RawResponse(status, [("Content-Type", "application/json")],
                           orjson.dumps({"message": phrase}), close=True)


_STATUSES = frozenset(s.value for s in HTTPStatus)


class DataPlaneServer(web.Server):
    """aiohttp's low-level server with the gateway's connection handler."""

    def __call__(self) -> RequestHandler:
        return _RequestHandler(self, loop=self._loop, **self._kwargs)


def data_plane_server(handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
                      config: Config) -> web.Server:
    """The data plane's HTTP server for ``handler`` with the config's limits and timeouts."""
    return DataPlaneServer(handler, **handler_kwargs(config))  # type: ignore[arg-type]


def handler_kwargs(config: Config) -> dict[str, object]:
    """aiohttp's request-handler settings for the data plane."""
    # AWS accepts URLs up to 10,240 characters and 10,240 bytes of headers (spec 10.3).
    # aiohttp's keep-alive timer runs from a connection's opening or its previous response and
    # is not reset by a partial request head, so it bounds a stalled or trickled head too: it
    # is the header timeout.
    return {"max_line_size": 16_384, "max_field_size": 16_384, "access_log": None,
            "keepalive_timeout": config.server.client_header_timeout_s,
            "logger": BoundedLog()}


async def _serve(path: str, overrides: Overrides, config: Config, *, data: bool, admin: bool,
                 inflight: InFlight | None = None, metrics: Metrics | None = None,
                 reuse_port: bool = False, limit_divisor: int = 1,
                 concurrency: SharedConcurrency | None = None,
                 stop: asyncio.Event | None = None,
                 on_hup_too: Callable[[], None] | None = None) -> int:
    loop = asyncio.get_running_loop()
    own_signals = stop is None
    if stop is None:
        stop = asyncio.Event()
    runtime = Runtime(config, inflight=inflight, metrics=metrics, limit_divisor=limit_divisor,
                      concurrency=concurrency)
    await runtime.start()
    runners: list[web.BaseRunner] = []

    async def reload() -> None:
        try:
            new = load(path, overrides)
            await runtime.reload(new)
        except ConfigError as err:
            log.error("reload failed, keeping the running deployment:\n%s",
                      format_problems(err))
            return
        except Exception:
            log.exception("reload failed, keeping the running deployment")
            return
        log.info("reloaded %s", path)

    reloads: set[asyncio.Task[None]] = set()

    def on_hup() -> None:
        task = asyncio.ensure_future(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    if own_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    def hup() -> None:
        if on_hup_too is not None:
            on_hup_too()  # the parent of workers passes SIGHUP on to them
        on_hup()

    loop.add_signal_handler(signal.SIGHUP, hup)
    flusher: asyncio.Future[None] | None = None
    if data and metrics is not None:  # a worker: its counts reach the shared files by flushes
        async def flush_forever() -> None:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL_S)
                runtime.metrics.flush()

        flusher = asyncio.ensure_future(flush_forever())
    try:
        if data:
            server = data_plane_server(runtime.gateway.handle, config)
            runner = web.ServerRunner(server, handle_signals=False,
                                      shutdown_timeout=config.server.shutdown_timeout_s)
            await runner.setup()
            runners.append(runner)
            await _start_site(runner, config.server.listen, reuse_port)
        if admin:
            app = build_admin_app(
                registry=runtime.registry, usage=runtime.limiter,
                deployment_info=lambda: _deployment_info(runtime),
                flush_cache=lambda api, stage: _flush(runtime, api, stage),
                metrics_render=runtime.metrics.render,
                health=lambda: _healthy(runtime),
                admin_token=config.server.admin_token,
            )
            admin_runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await admin_runner.setup()
            runners.append(admin_runner)
            await _start_site(admin_runner, config.server.admin_listen, False)
        _tune_gc()
        await stop.wait()
        log.info("shutting down: draining in-flight requests")
    finally:
        for each in runners:
            # ServerRunner.cleanup stops accepting, then waits up to shutdown_timeout for the
            # handlers in flight before cancelling them.
            await each.cleanup()
        if flusher is not None:
            flusher.cancel()
        runtime.metrics.flush()
        await runtime.aclose()
        log.info("stopped")
    return 0


async def _start_site(runner: web.BaseRunner, where: HostPort, reuse_port: bool) -> None:
    site = web.TCPSite(runner, where.host, where.port, reuse_port=reuse_port or None,
                       backlog=2048)
    await site.start()
    for addr in runner.addresses:
        host, port = addr[0], addr[1]
        log.info("listening on http://%s:%s", host, port)


async def _flush(runtime: Runtime, api_id: str, stage: str) -> bool:
    if runtime.gateway.deployment.stage(api_id, stage) is None:
        return False
    await runtime.cache.flush(f"{api_id}:{stage}")
    return True


async def _healthy(runtime: Runtime) -> bool:
    """The gateway answers and so does its store: one bounded read of the rate-limit store."""
    try:
        await runtime.limiter.daily_usage("-", "-", [datetime.datetime.now(datetime.UTC).date()])
    except Exception:
        return False
    return True


def _deployment_info(runtime: Runtime) -> list[dict[str, object]]:
    return [{"id": api.id, "name": api.definition.title,
             "stages": [{"stageName": name, "cacheClusterEnabled": stage.cache_cluster_enabled,
                         "variables": dict(stage.variables)}
                        for name, stage in api.stages.items()]}
            for api in runtime.config.apis]


# --- several workers ---------------------------------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _supervise(path: str, overrides: Overrides, config: Config) -> int:
    workers = config.server.workers
    listen = config.server.listen
    if listen.port == 0:  # every worker must bind the same port
        listen = HostPort(listen.host, _free_port(listen.host))
        overrides = dataclasses.replace(overrides, listen=listen)
        config = dataclasses.replace(config, server=dataclasses.replace(config.server,
                                                                        listen=listen))
    divisor = 1
    if config.storage.url.startswith("memory://"):
        divisor = workers
        log.warning("storage is memory:// with %d workers: each worker keeps its own store, "
                    "so every limit is divided by %d; use Redis for exact shared limits",
                    workers, workers)
    metrics_dir = tempfile.mkdtemp(prefix="sluice-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    inflight = InFlight(config.account.max_concurrency, shared=True)
    # reservedConcurrency holds for the machine: one set of slots, shared by every worker
    concurrency = SharedConcurrency(config.functions)
    children: dict[int, int] = {}  # pid -> worker index

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
                code = _run_loop(_serve(path, overrides, config, data=True, admin=False,
                                        inflight=inflight, concurrency=concurrency,
                                        metrics=Metrics(multiprocess_dir=metrics_dir),
                                        reuse_port=True, limit_divisor=divisor))
            finally:
                flush_logs()  # os._exit skips atexit: write the worker's last lines first
                os._exit(code)
        children[pid] = index

    for index in range(workers):
        spawn(index)
    try:
        return _run_loop(_parent(path, overrides, config, children, spawn, metrics_dir))
    finally:
        for pid in children:  # only left when the parent failed: never orphan a worker
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            for file in Path(metrics_dir).glob("*.db"):
                file.unlink()
            os.rmdir(metrics_dir)


async def _parent(path: str, overrides: Overrides, config: Config, children: dict[int, int],
                  spawn: Callable[[int], None], metrics_dir: str) -> int:
    loop = asyncio.get_running_loop()
    stopping = False

    def forward(sig: int) -> None:
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            index = children.pop(pid, None)
            if index is not None and not stopping:
                log.warning("worker %d (pid %d) exited with %s; starting a new one", index, pid,
                            os.waitstatus_to_exitcode(status))
                spawn(index)

    async def reaper() -> None:
        # uvloop keeps SIGCHLD for itself, so exited workers are collected by polling.
        while True:
            reap()
            await asyncio.sleep(0.2)

    reaping = asyncio.ensure_future(reaper())
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    stop_admin = asyncio.Event()
    serve = asyncio.ensure_future(_serve(path, overrides, config, data=False, admin=True,
                                         metrics=Metrics(multiprocess_dir=metrics_dir),
                                         stop=stop_admin,
                                         on_hup_too=lambda: forward(signal.SIGHUP)))
    await done.wait()
    stopping = True
    reaping.cancel()
    forward(signal.SIGTERM)
    # workers drain their in-flight requests themselves; wait for them, bounded
    deadline = loop.time() + config.server.shutdown_timeout_s + 5
    while children and loop.time() < deadline:
        reap()
        await asyncio.sleep(0.05)
    forward(signal.SIGKILL)
    stop_admin.set()
    await serve
    return 0
