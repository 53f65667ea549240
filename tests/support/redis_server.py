"""Real redis-server processes on free loopback ports, for the tests.

``RedisServer`` is one standalone server that a test may stop and start again (the port is
kept, so clients reconnect to the same address). ``RedisCluster`` is three masters joined
with ``redis-cli --cluster create`` and no replicas.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port(below: int | None = None) -> int:
    """A free loopback port; ``below`` bounds it (a cluster node also needs port + 10000)."""
    if below is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    for _ in range(200):
        port = random.randrange(20_000, below)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"redis-server did not listen on {port} within {timeout}s")


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


class RedisServer:
    def __init__(self, port: int | None = None, *, cluster: bool = False) -> None:
        self.port = port or free_port(below=45_000 if cluster else None)
        self.cluster = cluster
        self.dir = Path(tempfile.mkdtemp(prefix=f"sluice-redis-{self.port}-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir),
            "--protected-mode", "no", "--loglevel", "warning",
        ]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file",
                     str(self.dir / "nodes.conf"), "--cluster-node-timeout", "2000"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flushall(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "flushall"],
                       check=True, stdout=subprocess.DEVNULL)

    def info_commandstats(self) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), "info", "commandstats"],
                              check=True, capture_output=True, text=True).stdout


class RedisCluster:
    def __init__(self) -> None:
        self.nodes = [RedisServer(cluster=True) for _ in range(3)]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addrs = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env={**os.environ})
        # every node, not only the first: a client may be sent to any of them, and a node
        # that has not yet heard the others' slots answers CLUSTERDOWN
        deadline = time.monotonic() + 15
        waiting = list(self.nodes)
        while time.monotonic() < deadline:
            waiting = [n for n in waiting if "cluster_state:ok" not in subprocess.run(
                ["redis-cli", "-p", str(n.port), "cluster", "info"],
                capture_output=True, text=True).stdout]
            if not waiting:
                return
            time.sleep(0.1)
        raise RuntimeError(f"redis cluster nodes {[n.port for n in waiting]} did not reach "
                           "cluster_state:ok")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def flushall(self) -> None:
        for node in self.nodes:
            node.flushall()
