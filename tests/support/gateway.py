"""The gateway as a real server for tests: in-process on port 0, or as a `sluice serve`
subprocess; upstreams as aiohttp apps on port 0."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from proxy.config.loader import load_config
from proxy.runtime import Runtime
from proxy.server import data_plane_server
from tests.support.redis_server import free_port


def write_config(tmp: Path, openapi: dict[str, Any] | str, *, stage: str = "prod",
                 variables: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
                 stage_extra: dict[str, Any] | None = None, api_id: str = "petstore",
                 storage_url: str = "memory://") -> Path:
    definition = tmp / f"{api_id}-openapi.yaml"
    if isinstance(openapi, str):
        definition.write_text(textwrap.dedent(openapi))
    else:
        definition.write_text(yaml.safe_dump(openapi))
    config: dict[str, Any] = {
        "server": {"listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0"},
        "storage": {"url": storage_url},
        "apis": [{"id": api_id, "definition": definition.name,
                  "stages": {stage: {"variables": variables or {}, **(stage_extra or {})}}}],
    }
    config.update(extra or {})
    path = tmp / "sluice.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """An aiohttp app on 127.0.0.1:0; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


class RunningGateway:
    def __init__(self, runtime: Runtime, url: str) -> None:
        self.runtime = runtime
        self.url = url


@contextlib.asynccontextmanager
async def run_gateway(config_path: Path, **runtime_kwargs: Any) -> AsyncIterator[RunningGateway]:
    """The real gateway handler on a real server on port 0, in this event loop."""
    config = load_config(config_path)
    runtime = Runtime(config, **runtime_kwargs)
    await runtime.start()
    server = data_plane_server(runtime.gateway.handle, config)
    runner = web.ServerRunner(server, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield RunningGateway(runtime, f"http://{host}:{port}")
    finally:
        await runner.cleanup()
        await runtime.aclose()


class GatewayProcess:
    """`python -m proxy serve CONFIG` in a subprocess, with its readiness line awaited."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.admin_port = free_port()
        self.cmd = [sys.executable, "-m", "proxy", "serve", str(config),
                    "--listen", f"127.0.0.1:{self.port}",
                    "--admin-listen", f"127.0.0.1:{self.admin_port}", *args]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = config.parent / f"gateway-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self, timeout: float = 20.0) -> None:
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, text=True, start_new_session=True)
        deadline = time.monotonic() + timeout
        want = {f"listening on http://127.0.0.1:{self.port}",
                f"listening on http://127.0.0.1:{self.admin_port}"}
        while time.monotonic() < deadline:
            text = self.log_path.read_text()
            if all(w in text for w in want):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway not ready in {timeout}s:\n{self.log_path.read_text()}")

    def output(self) -> str:
        return self.log_path.read_text()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None) is not None:
            self._log.close()


def listening_ports(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"listening on http://[^:]+:(\d+)", text)]
