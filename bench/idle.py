"""``python -m bench idle``: the gateway's memory with many idle keep-alive connections (P6).

Starts ``sluice serve`` on a MOCK route, opens N connections that each send one request and then
stay open (keep-alive), and reads the worker's resident memory (VmRSS) before and after.
Loopback only; bounded by ``--timeout``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

_OPENAPI = {
    "openapi": "3.0.1", "info": {"title": "idle", "version": "1"},
    "paths": {"/ping": {"get": {"responses": {}, "x-amazon-apigateway-integration": {
        "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
        "responses": {"default": {"statusCode": "200"}}}}}},
}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _raise_nofile(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


async def _hold(port: int, n: int) -> list[asyncio.StreamWriter]:
    request = b"GET /idle/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    writers: list[asyncio.StreamWriter] = []

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)

    for start in range(0, n, 500):  # in waves, so the listen backlog never overflows
        await asyncio.gather(*(one() for _ in range(start, min(n, start + 500))))
    return writers


def run(connections: int, timeout: float) -> dict[str, object]:
    _raise_nofile(connections + 1000)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "idle.yaml").write_text(yaml.safe_dump(_OPENAPI))
        config = Path(tmp) / "sluice.yaml"
        config.write_text(yaml.safe_dump({
            "account": {"maxConcurrency": connections * 2},
            "apis": [{"id": "idle", "definition": "idle.yaml", "stages": {"idle": {}}}]}))
        with socket_port() as port, socket_port() as admin:
            proc = subprocess.Popen(
                [sys.executable, "-m", "proxy", "serve", str(config),
                 "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + timeout
            assert proc.stderr is not None
            ready = 0
            while ready < 2:
                line = proc.stderr.readline()
                if not line or time.monotonic() > deadline:
                    raise RuntimeError("sluice did not start")
                ready += "listening on http://" in line
            time.sleep(0.5)
            before = _rss_kib(proc.pid)

            async def main() -> tuple[int, int, int]:
                writers = await asyncio.wait_for(_hold(port, connections), timeout)
                await asyncio.sleep(1.0)  # let the gateway settle with all of them idle
                measured = _rss_kib(proc.pid), _open_conns(proc.pid), len(writers)
                for w in writers:
                    w.close()
                return measured

            during, open_conns, held = asyncio.run(main())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"connections": held, "open_at_gateway": open_conns,
            "rss_mb_idle_process": round(before / 1024, 1),
            "rss_mb_with_connections": round(during / 1024, 1),
            "kb_per_connection": round((during - before) / max(held, 1), 2)}


def _open_conns(pid: int) -> int:
    return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir()
               if os.readlink(fd).startswith("socket:"))


class socket_port:
    def __enter__(self) -> int:
        import socket

        self._s = socket.socket()
        self._s.bind(("127.0.0.1", 0))
        return int(self._s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._s.close()


def main(connections: int, timeout: float, json_path: Path | None) -> int:
    result = run(connections, timeout)
    print(json.dumps(result))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
    return 0
