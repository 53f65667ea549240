"""Results: medians over repeats, ratios to the baselines, the table, the JSON of CONTRACT.md s6.

The JSON keeps the contract's fields and names (``machine.cpus``, ``machine.python``; per run
``scenario``, ``target``, ``rps``, ``errors``, ``latency_ms.{p50,p90,p99,p999}``, ``status``)
and adds: ``requests``, ``repeats``, ``samples`` (each repeat), ``driver``, ``vs`` (rps ratio
to each baseline of the scenario), ``redis`` (commandstats per request) and ``admitted``
(over-limit scenarios) where they apply.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bench.drivers.base import PERCENTILES, RunResult
from bench.scenario import BASELINES

__all__ = ["add_ratios", "aggregate", "format_table", "machine_info", "validate_report"]


def _version(args: list[str]) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else None


def machine_info(**extra: Any) -> dict[str, Any]:
    """``cpus`` and ``python`` (the contract's), then what else explains the figures."""
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f
                              if line.startswith("model name")), None)
    except OSError:
        pass
    return {"cpus": os.cpu_count() or 1, "python": platform.python_version(),
            "platform": platform.platform(), "cpu_model": cpu_model,
            "nginx": _version(["nginx", "-v"]), "wrk": _version(["wrk", "-v"]),
            "redis": _version(["redis-server", "--version"]),
            "executable": sys.executable,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}


def aggregate(scenario: str, target: str, samples: Sequence[RunResult]) -> dict[str, Any]:
    """One ``runs`` entry: medians of rps and of each percentile; statuses summed over repeats."""
    status: dict[str, int] = {}
    for s in samples:
        for code, n in s.status.items():
            status[code] = status.get(code, 0) + n
    return {
        "scenario": scenario, "target": target,
        "rps": round(statistics.median(s.rps for s in samples), 1),
        "errors": sum(s.errors for s in samples),
        "latency_ms": {name: round(statistics.median(s.latency_ms[name] for s in samples), 3)
                       for name, _ in PERCENTILES},
        "status": dict(sorted(status.items())),
        "requests": sum(s.requests for s in samples),
        "repeats": len(samples),
        "driver": samples[0].driver,
        "samples": [{"rps": round(s.rps, 1), "requests": s.requests, "errors": s.errors,
                     "elapsed_s": round(s.elapsed_s, 3), "latency_ms": s.latency_ms,
                     "status": s.status, "warmup_requests": s.warmup_requests,
                     "error_kinds": s.error_kinds} for s in samples],
    }


def add_ratios(runs: list[dict[str, Any]]) -> None:
    """``vs[baseline] = rps / baseline rps`` for every run with a baseline in its scenario."""
    by_scenario: dict[str, dict[str, float]] = {}
    for r in runs:
        if r["target"] in BASELINES:
            by_scenario.setdefault(r["scenario"], {})[r["target"]] = r["rps"]
    for r in runs:
        base = by_scenario.get(r["scenario"], {})
        vs = {b: round(r["rps"] / rps, 3) for b, rps in base.items()
              if b != r["target"] and rps > 0}
        if vs:
            r["vs"] = vs


def format_table(doc: Mapping[str, Any]) -> str:
    """The terminal table: one line per scenario and target."""
    head = (f"{'scenario':<14}{'target':<22}{'rps':>10}{'p50':>8}{'p90':>8}{'p99':>8}"
            f"{'p999':>9}{'errors':>8}  {'status':<22}vs")
    lines = [head, "-" * len(head)]
    for r in doc["runs"]:
        lat = r["latency_ms"]
        status = " ".join(f"{k}:{v}" for k, v in r["status"].items())
        vs = " ".join(f"{b}={x:.2f}x" for b, x in r.get("vs", {}).items())
        lines.append(f"{r['scenario']:<14}{r['target']:<22}{r['rps']:>10.0f}{lat['p50']:>8.2f}"
                     f"{lat['p90']:>8.2f}{lat['p99']:>8.2f}{lat['p999']:>9.2f}"
                     f"{r['errors']:>8}  {status:<22}{vs}")
        lines.extend(f"{'':<14}  {extra}: " + ", ".join(
            f"{k}={v}" for k, v in r[extra].items() if not isinstance(v, dict))
            for extra in ("redis", "admitted") if extra in r)
    lines.extend(f"{f['scenario']:<14}{f['target']:<22}FAILED: {f['error'].splitlines()[0]}"
                 for f in doc.get("failures", []))
    return "\n".join(lines)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_report(doc: Any) -> list[str]:
    """Every way ``doc`` departs from CONTRACT.md section 6's shape (empty when it conforms)."""
    errors: list[str] = []
    if not isinstance(doc, dict):
        return ["the document is not an object"]
    machine = doc.get("machine")
    if not isinstance(machine, dict):
        errors.append("machine: missing or not an object")
    else:
        if not isinstance(machine.get("cpus"), int) or machine["cpus"] < 1:
            errors.append("machine.cpus: a positive integer")
        if not isinstance(machine.get("python"), str):
            errors.append("machine.python: a string")
    runs = doc.get("runs")
    if not isinstance(runs, list):
        return [*errors, "runs: missing or not a list"]
    for i, run in enumerate(runs):
        where = f"runs[{i}]"
        if not isinstance(run, dict):
            errors.append(f"{where}: not an object")
            continue
        errors.extend(f"{where}.{key}: a non-empty string" for key in ("scenario", "target")
                      if not isinstance(run.get(key), str) or not run[key])
        if not _number(run.get("rps")) or run["rps"] < 0:
            errors.append(f"{where}.rps: a number >= 0")
        if not isinstance(run.get("errors"), int) or run["errors"] < 0:
            errors.append(f"{where}.errors: an integer >= 0")
        lat = run.get("latency_ms")
        if not isinstance(lat, dict):
            errors.append(f"{where}.latency_ms: an object")
        else:
            for name, _ in PERCENTILES:
                if not _number(lat.get(name)) or lat[name] < 0:
                    errors.append(f"{where}.latency_ms.{name}: a number >= 0")
        status = run.get("status")
        if not isinstance(status, dict):
            errors.append(f"{where}.status: an object")
        else:
            for code, n in status.items():
                if not (isinstance(code, str) and code.isdigit() and len(code) == 3):
                    errors.append(f"{where}.status: key {code!r} is not a 3-digit status")
                if not isinstance(n, int) or n < 0:
                    errors.append(f"{where}.status.{code}: an integer >= 0")
    return errors
