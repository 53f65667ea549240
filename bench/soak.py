"""``python -m bench soak``: a long mixed load while the gateway's resources are sampled.

Starts an upstream, Redis (for the ``mixed`` scenario's store) and ``sluice serve``, drives the
``mixed`` request mix (proxied, cached, keyed, throttled, refused) for ``--duration`` seconds,
and every ``--every`` seconds reads from /proc the gateway's resident memory and open file
descriptors, its sockets (connections and listeners), and from its /metrics the asyncio tasks
alive in it (``sluice_event_loop_tasks``). The report gives each series' least-squares slope per
minute over the second half of the run (after warm-up growth: caches, pools, interned strings)
and the first and last values. A leak shows as a slope well away from zero in that half; noise
as a slope that changes sign between runs. Loopback only; bounded by the duration.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from bench.compare import pick_driver
from bench.drivers.base import RunResult
from bench.scenario import discover, render_config
from bench.targets import Supervisor, free_port
from bench.upstream import UpstreamSettings

__all__ = ["main", "slope_per_minute"]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SERIES = ("rss_mb", "fds", "sockets", "tasks")


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, in value per minute."""
    if len(points) < 2 or len({t for t, _ in points}) < 2:
        return 0.0
    return statistics.linear_regression([t for t, _ in points],
                                        [v for _, v in points]).slope * 60.0


def _proc(pid: int) -> dict[str, float]:
    rss_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
    fds = list(Path(f"/proc/{pid}/fd").iterdir())
    sockets = 0
    for fd in fds:
        try:
            sockets += Path(fd).readlink().as_posix().startswith("socket:")
        except OSError:  # closed while we looked
            continue
    return {"rss_mb": round(rss_kib / 1024, 2), "fds": len(fds), "sockets": sockets}


def _tasks(admin: str) -> float:
    with _OPENER.open(f"http://{admin}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("sluice_event_loop_tasks "):
                return float(line.split()[1])
    return float("nan")


def run(duration_s: float, every_s: float, storage: str) -> dict[str, Any]:
    (scenario,) = discover(["mixed"])
    if storage == "memory":
        scenario = replace(scenario, storage="memory")
    workdir = Path(tempfile.mkdtemp(prefix="sluice-soak-"))
    sup = Supervisor(workdir)
    try:
        upstream = (sup.nginx_upstream(256) if shutil.which("nginx")
                    else sup.python_upstream(UpstreamSettings(body_bytes=256)))
        redis_url = sup.redis() if scenario.storage == "redis" else "memory://"
        config = render_config(scenario, upstream, workdir)
        config_path = workdir / "mixed.sluice.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        admin_port = free_port()
        addr = sup.sluice(config_path, redis_url, admin_port=admin_port)
        gateway = sup.processes[-1]
        admin = f"127.0.0.1:{admin_port}"
        settings = replace(scenario.load, duration_s=duration_s, warmup_s=1.0)
        driver_name, drive = pick_driver(None, settings)
        result: list[RunResult] = []
        errors: list[BaseException] = []

        def load() -> None:
            try:
                result.append(drive(f"http://{addr}/bench", scenario.deck(), settings,
                                    label="soak", progress=False))
            except BaseException as exc:  # reported below; the sampler must stop either way
                errors.append(exc)

        thread = threading.Thread(target=load, daemon=True)
        began = time.monotonic()
        thread.start()
        samples: list[dict[str, float]] = []
        while thread.is_alive():
            t = time.monotonic() - began
            sample = {"t": round(t, 1), **_proc(gateway.proc.pid), "tasks": _tasks(admin)}
            samples.append(sample)
            print(f"  t={sample['t']:7.1f}s rss {sample['rss_mb']:8.1f} MB  fds "
                  f"{sample['fds']:6.0f}  sockets {sample['sockets']:6.0f}  tasks "
                  f"{sample['tasks']:6.0f}", file=sys.stderr)
            thread.join(every_s)
        if errors:
            raise errors[0]
    finally:
        sup.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    half = [s for s in samples if s["t"] >= samples[-1]["t"] / 2] if samples else []
    summary = {
        name: {"first": samples[0][name], "last": samples[-1][name],
               "slope_per_min_second_half": round(
                   slope_per_minute([(s["t"], s[name]) for s in half]), 3)}
        for name in SERIES} if samples else {}
    run_result = result[0] if result else None
    return {"duration_s": duration_s, "every_s": every_s, "storage": scenario.storage,
            "driver": driver_name,
            "rps": round(run_result.rps, 1) if run_result else None,
            "status": run_result.status if run_result else {},
            "errors": run_result.errors if run_result else None,
            "series": summary, "samples": samples}


def main(duration_s: float, every_s: float, storage: str, json_path: Path | None) -> int:
    doc = run(duration_s, every_s, storage)
    print(f"soak {doc['duration_s']:.0f} s, {doc['storage']}, {doc['driver']}: "
          f"{doc['rps']} rps, status {doc['status']}, errors {doc['errors']}")
    for name, s in doc["series"].items():
        print(f"  {name:8s} first {s['first']:10.2f}  last {s['last']:10.2f}  slope "
              f"{s['slope_per_min_second_half']:+9.3f}/min (second half)")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=2) + "\n")
    return 0
