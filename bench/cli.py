"""The ``python -m bench`` command line: ``compare``, ``run``, ``idle`` and ``soak``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from bench import report
from bench.compare import CompareOptions, compare, drive_target
from bench.scenario import discover

__all__ = ["main"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same path as Ctrl-C, so every ``finally`` stops what was started
    raise KeyboardInterrupt


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(
        "Load-testing harness for Sluice; see bench/README.md."))
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--duration", type=float, help="seconds per measured run")
        p.add_argument("--connections", type=int, help="concurrent connections")
        p.add_argument("--driver", choices=("wrk", "asyncio"),
                       help="default: wrk when installed (closed loop), else asyncio")
        p.add_argument("--json", type=Path, help="write the report here")
        p.add_argument("--no-progress", action="store_true", help="no status line on stderr")

    c = sub.add_parser("compare", help="Sluice against nginx, a naive aiohttp proxy, direct")
    common(c)
    c.add_argument("--repeats", type=int, default=3, help="rounds of A B C ... (median)")
    c.add_argument("--scenarios", type=_csv, help="names or files, comma-separated")
    c.add_argument("--targets", type=_csv,
                   help="subset of sluice,sluice-clientsession,nginx,naive-aiohttp,direct")
    c.add_argument("--plots", type=Path, help="write throughput.png and latency.png here")
    c.add_argument("--body-bytes", type=int, default=256, help="upstream response body size")
    c.add_argument("--interleave", action="store_true",
                   help="start every scenario first, then alternate rounds across scenarios"
                        " (for ratios between scenarios)")

    r = sub.add_parser("run", help="drive an existing deployment with a scenario's mix")
    common(r)
    r.add_argument("--target", required=True,
                   help="base URL, stage included: http://127.0.0.1:8080/bench")
    r.add_argument("--scenario", required=True, help="a built-in name or a scenario file")
    r.add_argument("--rate", type=float, help="open loop at this many requests/s")
    r.add_argument("--warmup", type=float, help="seconds of warmup (not reported)")
    i = sub.add_parser("idle", help="gateway memory with many idle keep-alive connections")
    i.add_argument("--connections", type=int, default=5000)
    i.add_argument("--timeout", type=float, default=120.0, help="bound on the whole run")
    i.add_argument("--json", type=Path, help="write the result here")
    s = sub.add_parser("soak", help="a long mixed load, sampling the gateway's resources")
    s.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    s.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    s.add_argument("--storage", choices=("redis", "memory"), default="redis")
    s.add_argument("--json", type=Path, help="write the samples and slopes here")
    return parser


def _emit(doc: dict[str, Any], json_path: Path | None) -> int:
    problems = report.validate_report(doc)
    print(report.format_table(doc))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {json_path}", file=sys.stderr)
    if problems:  # a bug of the harness, never of the target
        print("report does not match CONTRACT.md s6: " + "; ".join(problems), file=sys.stderr)
        return 2
    return 0


def _compare(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    scenarios = discover(args.scenarios)
    options = CompareOptions(
        duration_s=args.duration, connections=args.connections, repeats=args.repeats,
        driver=args.driver, targets=args.targets, body_bytes=args.body_bytes,
        progress=False if args.no_progress else None, interleave=args.interleave)
    doc = compare(scenarios, options)
    code = _emit(doc, args.json)
    if args.plots is not None and doc["runs"]:
        from bench.plots import write_plots

        for path in write_plots(doc, args.plots):
            print(f"wrote {path}", file=sys.stderr)
    if not doc["runs"]:
        print("no target ran", file=sys.stderr)
        return 1
    return code


def _run(args: argparse.Namespace) -> int:
    (scenario,) = discover([args.scenario])
    settings = scenario.load
    if args.duration is not None:
        settings = replace(settings, duration_s=args.duration)
    if args.connections is not None:
        settings = replace(settings, connections=args.connections)
    if args.rate is not None:
        settings = replace(settings, rate=args.rate)
    if args.warmup is not None:
        settings = replace(settings, warmup_s=args.warmup)
    result = drive_target(args.target, scenario.deck(), settings,
                          args.driver or scenario.driver,
                          progress=False if args.no_progress else None)
    entry = report.aggregate(scenario.name, args.target, [result])
    doc = {"machine": report.machine_info(driver=result.driver), "runs": [entry]}
    return _emit(doc, args.json)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command == "idle":
            from bench.idle import main as idle

            return idle(args.connections, args.timeout, args.json)
        if args.command == "soak":
            from bench.soak import main as soak

            return soak(args.duration, args.every, args.storage, args.json)
        return _compare(args) if args.command == "compare" else _run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; every started process was stopped", file=sys.stderr)
        return 130
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
