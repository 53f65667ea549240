"""Start and stop what a comparison drives: upstreams, Redis, nginx, the naive proxy, Sluice.

Every process runs in its own session (process group) with its output in a log file under the
run's temporary directory; ``Supervisor.stop_all`` sends SIGTERM to each group, waits, then
SIGKILLs, and is called from a ``finally`` so a Ctrl-C or an error leaves nothing behind. A
Ctrl-C (or SIGTERM) that lands while a child is being forked or while ``stop_all`` runs is held
until that step is done: raised inside ``Popen`` it would orphan a child nothing knows about.
Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.upstream import REFERENCE_BODY, REFERENCE_PATH, UpstreamSettings, body_of

__all__ = ["Process", "StartError", "Supervisor", "free_port"]

HOST = "127.0.0.1"
# no proxy from the environment: every request of the harness stays on the loopback
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_LISTENING = re.compile(r"listening on http://([0-9.]+):(\d+)")


class StartError(RuntimeError):
    """A process did not become ready; the message carries the tail of its log."""


_HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Defer SIGINT/SIGTERM to the end of the block, then deliver them to the usual handlers.

    Blocking with ``pthread_sigmask`` would be inherited by the forked child (nginx and Python
    would then ignore our SIGTERM), so the Python-level handlers are swapped instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: held.append(signum))
                for sig in _HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is alive and not a zombie (read from /proc)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != b"Z":
                return True
    return False


@dataclass(slots=True)
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_s: float = 5.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace_s)
        # the group may hold children (nginx workers, gateway workers) after the leader left
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace_s)
        # SIGKILL is delivered, not done: wait until no member still runs, so that "stopped"
        # holds when this returns (orphaned members become zombies of init, not ours to reap)
        deadline = time.monotonic() + grace_s
        while _group_running(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)


class Supervisor:
    """Owns every process of a run, in a scratch directory; ``stop_all`` is idempotent."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[Process] = []

    def spawn(self, name: str, args: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Process:
        log = self.workdir / f"{name}-{len(self.processes)}.log"
        with _interrupts_held(), log.open("wb") as out:
            proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    env={**os.environ, **(env or {})}, cwd=cwd)
            p = Process(name, proc, log)
            self.processes.append(p)
        return p

    def stop(self, p: Process) -> None:
        p.stop()
        if p in self.processes:
            self.processes.remove(p)

    def stop_all(self) -> None:
        with _interrupts_held():
            while self.processes:
                self.processes.pop().stop()

    def wait_ready(self, p: Process, check: Callable[[], bool], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if p.proc.poll() is not None:
                tail = p.log_tail()
                last = tail.splitlines()[-1] if tail else ""
                raise StartError(f"{p.name} exited with {p.proc.returncode}: {last}\n{tail}")
            if check():
                return
            time.sleep(0.05)
        tail = p.log_tail()  # before stopping, so it shows why, not the shutdown
        self.stop(p)
        raise StartError(f"{p.name} not ready within {timeout_s:.0f}s:\n{tail}")

    def wait_listening(self, p: Process, timeout_s: float = 15.0) -> str:
        """Wait for the ``listening on http://HOST:PORT`` log line; returns ``HOST:PORT``."""
        found: list[str] = []

        def check() -> bool:
            m = _LISTENING.search(p.log.read_text(errors="replace"))
            if m and _port_open(int(m.group(2))):
                found.append(f"{m.group(1)}:{m.group(2)}")
                return True
            return False

        self.wait_ready(p, check, timeout_s)
        return found[0]

    # ---- the things a comparison starts -------------------------------------------------

    def python_upstream(self, settings: UpstreamSettings) -> str:
        p = self.spawn("upstream", [
            sys.executable, "-m", "bench.upstream", "--host", HOST, "--port", "0",
            "--body-bytes", str(settings.body_bytes), "--latency-ms", str(settings.latency_ms),
            "--slow-prefix", settings.slow_prefix, "--slow-ms", str(settings.slow_ms)])
        return self.wait_listening(p)

    def nginx_upstream(self, body_bytes: int) -> str:
        port = free_port()
        body = body_of(body_bytes).decode()
        # nginx reads \\ and \' as escapes in a quoted string
        reference = REFERENCE_BODY.decode().replace("\\", "\\\\").replace("'", "\\'")
        server = (f"server {{ listen {HOST}:{port}; location / {{ "
                  f"default_type application/json; return 200 '{body}'; }} "
                  f"location = {REFERENCE_PATH} {{ "
                  f"default_type application/json; return 200 '{reference}'; }} }}")
        return self._nginx("nginx-upstream", port, server)

    def nginx_proxy(self, upstream: str, keepalive: int = 128) -> str:
        port = free_port()
        server = (f"upstream backend {{ server {upstream}; keepalive {keepalive}; }}\n"
                  f"server {{ listen {HOST}:{port}; location / {{ proxy_pass http://backend; "
                  f'proxy_http_version 1.1; proxy_set_header Connection ""; }} }}')
        return self._nginx("nginx", port, server)

    def _nginx(self, name: str, port: int, server: str) -> str:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        prefix = self.workdir / f"{name}-{port}"
        prefix.mkdir()
        temps = "\n".join(f"  {kind}_temp_path {prefix}/{kind};"
                          for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = prefix / "nginx.conf"
        conf.write_text(
            f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/error.log warn;\n"
            "events { worker_connections 8192; }\n"
            "http {\n  access_log off;\n  keepalive_requests 10000000;\n"
            f"{temps}\n  {server}\n}}\n")
        p = self.spawn(name, [nginx, "-p", str(prefix), "-e", f"{prefix}/error.log",
                              "-c", str(conf)])
        self.wait_ready(p, lambda: _port_open(port))
        return f"{HOST}:{port}"

    def naive_proxy(self, upstream: str) -> str:
        p = self.spawn("naive-aiohttp", [sys.executable, "-m", "bench.naive_proxy",
                                         "--upstream", upstream, "--host", HOST, "--port", "0"])
        return self.wait_listening(p)

    def redis(self) -> str:
        port = free_port()
        data = self.workdir / f"redis-{port}"
        data.mkdir()
        p = self.spawn("redis", [
            "redis-server", "--port", str(port), "--bind", HOST, "--save", "",
            "--appendonly", "no", "--protected-mode", "no", "--dir", str(data),
            "--loglevel", "warning"])
        self.wait_ready(p, lambda: _port_open(port))
        return f"redis://{HOST}:{port}/0"

    def sluice(self, config: Path, storage_url: str, *, workers: int = 1,
               env: Mapping[str, str] | None = None, name: str = "sluice",
               admin_port: int | None = None) -> str:
        port, admin = free_port(), admin_port or free_port()
        p = self.spawn(name, [
            sys.executable, "-m", "proxy", "serve", str(config), "--listen", f"{HOST}:{port}",
            "--admin-listen", f"{HOST}:{admin}", "--storage", storage_url,
            "--workers", str(workers)], env=env, cwd=config.parent)

        def ready() -> bool:
            if not _port_open(port):
                return False
            try:
                with _OPENER.open(f"http://{HOST}:{admin}/healthz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        self.wait_ready(p, ready, timeout_s=30.0)
        return f"{HOST}:{port}"
