"""``python -m bench compare``: every scenario against Sluice and the baselines, in alternation.

Per scenario the targets are started once and driven A B C A B C ... (``repeats`` rounds), so
a slow drift of the machine (thermal, another tenant) spreads over all targets instead of
landing on one; the report takes medians.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis
import yaml

from bench import report
from bench.drivers import asyncio_driver, wrk
from bench.drivers.base import LoadSettings, RequestSpec, RunResult
from bench.scenario import Scenario, render_config
from bench.targets import StartError, Supervisor
from bench.upstream import UpstreamSettings

__all__ = ["CompareOptions", "admitted_summary", "compare", "drive_target", "pick_driver",
           "redis_calls", "redis_summary"]

Driver = Callable[..., RunResult]

# the harness's own commands, left out of the per-request Redis figures
_HARNESS_COMMANDS = frozenset({"info", "config|resetstat", "config", "flushall", "ping",
                               "hello", "client|setinfo", "client"})


@dataclass(frozen=True, slots=True)
class CompareOptions:
    duration_s: float | None = None
    connections: int | None = None
    repeats: int = 3
    driver: str | None = None
    targets: tuple[str, ...] | None = None
    body_bytes: int = 256
    progress: bool | None = None
    interleave: bool = False  # all scenarios up at once, rounds alternate across them


def pick_driver(requested: str | None, settings: LoadSettings) -> tuple[str, Driver]:
    """wrk when installed and the load is closed-loop; the asyncio driver otherwise."""
    if requested == "wrk" and not wrk.available():
        raise SystemExit("--driver wrk: wrk is not installed")
    if requested == "wrk" and settings.rate is not None:
        print("note: wrk has no open loop; using the asyncio driver for a rated scenario",
              file=sys.stderr)
        requested = "asyncio"
    if requested is None:
        requested = "wrk" if wrk.available() and settings.rate is None else "asyncio"
    return requested, wrk.run if requested == "wrk" else asyncio_driver.run


def _settings(scenario: Scenario, options: CompareOptions) -> LoadSettings:
    settings = scenario.load
    if options.duration_s is not None:
        settings = replace(settings, duration_s=options.duration_s,
                           warmup_s=min(settings.warmup_s, max(0.0, options.duration_s / 5)))
    if options.connections is not None:
        settings = replace(settings, connections=options.connections)
    return settings


def redis_calls(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT, the harness's own left out."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()
            if name.removeprefix("cmdstat_") not in _HARNESS_COMMANDS}


def _stage_of(config: dict[str, Any]) -> str:
    try:
        return str(next(iter(config["apis"][0]["stages"])))
    except (KeyError, IndexError, StopIteration, TypeError):
        raise ValueError("the scenario's Sluice config needs apis[0].stages") from None


class _Run:
    """The state of one comparison: the supervisor, the shared upstream, the results."""

    def __init__(self, options: CompareOptions, sup: Supervisor) -> None:
        self.options = options
        self.sup = sup
        self.shared_upstream: str | None = None
        self.runs: list[dict[str, Any]] = []
        self.failures: list[dict[str, str]] = []
        self.drivers: set[str] = set()

    def upstream_for(self, scenario: Scenario) -> str:
        if scenario.upstream is not None:
            u = scenario.upstream
            return self.sup.python_upstream(UpstreamSettings(
                body_bytes=int(u.get("body_bytes", self.options.body_bytes)),
                latency_ms=float(u.get("latency_ms", 0)),
                slow_prefix=str(u.get("slow_prefix", "/slow/")),
                slow_ms=float(u.get("slow_ms", 0))))
        if self.shared_upstream is None:
            if shutil.which("nginx"):
                self.shared_upstream = self.sup.nginx_upstream(self.options.body_bytes)
            else:
                self.shared_upstream = self.sup.python_upstream(
                    UpstreamSettings(body_bytes=self.options.body_bytes))
        return self.shared_upstream

    def start_targets(self, scenario: Scenario, upstream: str,
                      redis_url: str | None) -> dict[str, str]:
        wanted = [t for t in scenario.targets
                  if self.options.targets is None or t in self.options.targets]
        urls: dict[str, str] = {}
        config_path: Path | None = None
        for target in wanted:
            try:
                if target in ("sluice", "sluice-clientsession"):
                    config = render_config(scenario, upstream, self.sup.workdir)
                    if config_path is None:
                        config_path = self.sup.workdir / f"{scenario.name}.sluice.yaml"
                        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
                    env = dict(scenario.env)
                    if target == "sluice-clientsession":
                        env["SLUICE_UPSTREAM_CLIENT"] = "aiohttp"
                    addr = self.sup.sluice(config_path, redis_url or "memory://",
                                           workers=scenario.workers, env=env, name=target)
                    urls[target] = f"http://{addr}/{_stage_of(config)}"
                elif target == "nginx":
                    if not shutil.which("nginx"):
                        continue
                    urls[target] = f"http://{self.sup.nginx_proxy(upstream)}"
                elif target == "naive-aiohttp":
                    urls[target] = f"http://{self.sup.naive_proxy(upstream)}"
                elif target == "direct":
                    urls[target] = f"http://{upstream}"
            except (StartError, OSError, ValueError) as exc:
                print(f"[{scenario.name}] {target} did not start: {exc}", file=sys.stderr)
                self.failures.append({"scenario": scenario.name, "target": target,
                                      "error": str(exc)})
        return urls

    def scenario(self, scenario: Scenario) -> None:
        """One scenario on its own: its targets up, its rounds, its targets down."""
        if scenario.upstream is None:
            self.upstream_for(scenario)  # shared: started before the mark, kept to the end
        mark = len(self.sup.processes)
        try:
            prepared = self.prepare(scenario)
            try:
                for round_ in range(self.options.repeats):
                    self.round(prepared, round_)
                self.finish(prepared)
            finally:
                prepared.close()
        finally:
            while len(self.sup.processes) > mark:
                self.sup.stop(self.sup.processes[-1])

    def interleaved(self, scenarios: Sequence[Scenario]) -> None:
        """All scenarios up at once, then round r drives every scenario's targets in turn.

        For a ratio between scenarios (observed against bare, cached against uncached): a
        drift of the machine then lands on both sides instead of on whichever ran later. Odd
        rounds run in reverse (A B, B A, A B, ...), so neither side always runs first.
        """
        prepared: list[_Prepared] = []
        try:
            for scenario in scenarios:
                print(f"[{scenario.name}] {scenario.description}".rstrip(), file=sys.stderr)
                prepared.append(self.prepare(scenario))
            for round_ in range(self.options.repeats):
                for one in (prepared if round_ % 2 == 0 else prepared[::-1]):
                    self.round(one, round_)
            for one in prepared:
                self.finish(one)
        finally:
            for one in prepared:
                one.close()

    def prepare(self, scenario: Scenario) -> _Prepared:
        settings = _settings(scenario, self.options)
        name, driver = pick_driver(self.options.driver or scenario.driver, settings)
        self.drivers.add(name)
        upstream = self.upstream_for(scenario)
        needs_sluice = any(t.startswith("sluice") for t in scenario.targets
                           if self.options.targets is None or t in self.options.targets)
        redis_url = self.sup.redis() if scenario.storage == "redis" and needs_sluice else None
        client = redis.Redis.from_url(redis_url) if redis_url else None
        try:
            urls = self.start_targets(scenario, upstream, redis_url)
        except BaseException:
            if client is not None:
                client.close()
            raise
        return _Prepared(scenario, settings, driver, scenario.deck(), client, urls)

    def round(self, p: _Prepared, round_: int) -> None:
        """Every target once; odd rounds in reverse order, so no target always runs first
        (the machine's state after a run, warm or loaded, would otherwise favour one side)."""
        scenario = p.scenario
        targets = list(p.urls.items())
        for target, url in (targets if round_ % 2 == 0 else targets[::-1]):
            if target in p.dead:
                continue
            sluice = target.startswith("sluice")
            if p.client is not None and sluice:
                if scenario.fresh_state:
                    p.client.flushall()
                p.client.config_resetstat()
            label = f"{scenario.name} {target} #{round_ + 1}"
            try:
                result = p.driver(url, p.deck, p.settings, label=label,
                                  progress=self.options.progress)
            except RuntimeError as exc:  # the target died: keep the other results
                print(f"  {label}: {exc}", file=sys.stderr)
                self.failures.append({"scenario": scenario.name, "target": target,
                                      "error": str(exc)})
                p.dead.add(target)
                continue
            p.samples[target].append(result)
            if p.client is not None and sluice:
                sent = result.warmup_requests + result.requests + result.errors
                p.store_calls[target].append((sent, redis_calls(p.client)))
            print(f"  {label}: {result.rps:,.0f} rps, p99 {result.latency_ms['p99']} ms,"
                  f" status {result.status}, errors {result.errors}", file=sys.stderr)

    def finish(self, p: _Prepared) -> None:
        scenario = p.scenario
        for target, runs in p.samples.items():
            if not runs:
                continue
            entry = report.aggregate(scenario.name, target, runs)
            entry["upstream"] = "python" if scenario.upstream else (
                "nginx" if shutil.which("nginx") else "python")
            if p.store_calls[target]:
                entry["redis"] = redis_summary(p.store_calls[target])
            expect = scenario.expect.get("admitted")
            if expect and target.startswith("sluice"):
                entry["admitted"] = admitted_summary(expect, p.settings, runs)
            self.runs.append(entry)


class _Prepared:
    """One scenario with its targets started: what its rounds need and what they gathered."""

    def __init__(self, scenario: Scenario, settings: LoadSettings, driver: Driver,
                 deck: Sequence[RequestSpec], client: redis.Redis | None,
                 urls: dict[str, str]) -> None:
        self.scenario = scenario
        self.settings = settings
        self.driver = driver
        self.deck = deck
        self.client = client
        self.urls = urls
        self.samples: dict[str, list[RunResult]] = {t: [] for t in urls}
        self.store_calls: dict[str, list[tuple[int, dict[str, int]]]] = {t: [] for t in urls}
        self.dead: set[str] = set()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def redis_summary(calls: list[tuple[int, dict[str, int]]]) -> dict[str, Any]:
    """Commands per request over (requests sent, calls per command) pairs, one per run."""
    requests = sum(sent for sent, _ in calls)
    commands: dict[str, int] = {}
    for _, per in calls:
        for name, n in per.items():
            commands[name] = commands.get(name, 0) + n
    total = sum(commands.values())
    return {"calls": total, "requests": requests,
            "calls_per_request": round(total / requests, 3) if requests else 0.0,
            "commands": dict(sorted(commands.items()))}


def admitted_summary(expect: dict[str, Any], settings: LoadSettings,
                     runs: Sequence[RunResult]) -> dict[str, Any]:
    """The median run's 200s against what a fresh token bucket admits in the duration."""
    rate, burst = float(expect["rateLimit"]), float(expect["burstLimit"])
    admitted = sorted(r.status.get("200", 0) for r in runs)[len(runs) // 2]
    expected = burst + rate * settings.duration_s
    return {"configured_rate": rate, "burst": burst, "offered_rate": settings.rate,
            "duration_s": settings.duration_s, "admitted_total": admitted,
            "admitted_rps": round(admitted / settings.duration_s, 1),
            "expected_total": expected, "admitted_vs_expected": round(admitted / expected, 3)}


def compare(scenarios: Sequence[Scenario], options: CompareOptions) -> dict[str, Any]:
    """Run every scenario against its targets; the report document (CONTRACT.md section 6)."""
    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    sup = Supervisor(workdir)
    run = _Run(options, sup)
    try:
        if options.interleave:
            run.interleaved(scenarios)
        else:
            for scenario in scenarios:
                print(f"[{scenario.name}] {scenario.description}".rstrip(), file=sys.stderr)
                run.scenario(scenario)
    finally:
        sup.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    report.add_ratios(run.runs)
    doc: dict[str, Any] = {
        "machine": report.machine_info(driver=",".join(sorted(run.drivers)),
                                       repeats=options.repeats),
        "runs": run.runs,
    }
    if run.failures:
        doc["failures"] = run.failures
    return doc


def drive_target(url: str, deck: Sequence[RequestSpec], settings: LoadSettings,
                 driver: str | None, progress: bool | None = None) -> RunResult:
    """One run against an existing deployment (``python -m bench run``)."""
    _, run = pick_driver(driver, settings)
    return run(url, deck, settings, label=url, progress=progress)
