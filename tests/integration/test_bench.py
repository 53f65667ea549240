"""The load-testing harness: drivers count what the server saw, the report keeps its contract.

Each driver runs 1-2 s against an in-process aiohttp upstream on a loopback port that counts
what it answered; ``compare`` and ``run`` run end to end as real subprocesses. The tests that
start processes and drive load through them are marked ``slow`` (``make test-quick`` leaves
them out; ``make test`` runs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web

from bench.compare import admitted_summary, redis_calls, redis_summary
from bench.drivers import asyncio_driver, wrk
from bench.drivers.base import LoadSettings, RequestSpec, RunResult
from bench.report import aggregate, validate_report
from bench.scenario import discover, load, render_config
from bench.upstream import REQUESTS, UpstreamSettings, make_app
from tests.support.processes import descendants

ROOT = Path(__file__).resolve().parents[2]
needs_wrk = pytest.mark.skipif(not wrk.available(), reason="wrk is not installed")

STATUS_COUNTS = web.AppKey("status_counts", dict[str, int])


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[web.Application, str]]:
    app = make_app(UpstreamSettings(body_bytes=128))
    runner, url = await _serve(app)
    yield app, url
    await runner.cleanup()


def _status_app() -> web.Application:
    """Answers /status/{code} with that code; /keyed needs ``x-api-key: good`` (else 403);
    POST bodies must arrive. Counts every status it sent."""
    app = web.Application()
    counts: dict[str, int] = {}
    app[STATUS_COUNTS] = counts

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == "/keyed":
            code = 200 if request.headers.get("x-api-key") == "good" else 403
        elif request.method == "POST":
            code = 201 if body == b'{"a":1}' else 400
        else:
            code = int(request.match_info["code"])
        counts[str(code)] = counts.get(str(code), 0) + 1
        return web.Response(status=code, body=b"{}")

    app.router.add_route("*", "/status/{code}", handle)
    app.router.add_route("*", "/keyed", handle)
    return app


MIXED_DECK = [
    RequestSpec("GET", "/status/200"),
    RequestSpec("GET", "/status/503"),
    RequestSpec("POST", "/status/201", (("content-type", "application/json"),), b'{"a":1}'),
    RequestSpec("GET", "/keyed", (("x-api-key", "good"),)),
    RequestSpec("GET", "/status/404"),
]


def _check_percentiles(result: RunResult) -> None:
    lat = result.latency_ms
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"]


# ---- asyncio driver: exact counts -------------------------------------------------------

async def test_asyncio_closed_loop_counts_exactly_what_upstream_answered(
        upstream: tuple[web.Application, str]) -> None:
    app, url = upstream
    settings = LoadSettings(connections=4, duration_s=1.0, warmup_s=0.3)
    result = await asyncio_driver.drive(url, [RequestSpec("GET", "/a")], settings,
                                        progress=False)
    assert result.errors == 0
    assert result.requests > 100
    assert result.warmup_requests > 0
    assert result.status == {"200": result.requests}
    assert result.warmup_requests + result.requests == app[REQUESTS][0]
    _check_percentiles(result)
    assert result.rps == pytest.approx(result.requests / result.elapsed_s)


async def test_asyncio_open_loop_sends_rate_times_duration(
        upstream: tuple[web.Application, str]) -> None:
    app, url = upstream
    settings = LoadSettings(connections=8, duration_s=1.0, warmup_s=0.0, rate=150.0)
    result = await asyncio_driver.drive(url, [RequestSpec("GET", "/a")], settings,
                                        progress=False)
    # request i is due at i/rate; those due before the end of the second are all sent
    assert result.requests == 150 == app[REQUESTS][0]
    assert result.status == {"200": 150}


async def test_asyncio_open_loop_measures_from_the_due_time() -> None:
    """A server that stalls every request 100 ms, offered 100 rps on 1 connection: a closed
    loop would report ~100 ms; from the due time, the queue behind the stall shows."""
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.Response(body=b"{}")

    app = web.Application()
    app.router.add_get("/", slow)
    runner, url = await _serve(app)
    try:
        settings = LoadSettings(connections=1, duration_s=0.5, warmup_s=0.0, rate=100.0,
                                timeout_s=10.0)
        result = await asyncio_driver.drive(url, [RequestSpec("GET", "/")], settings,
                                            progress=False)
    finally:
        await runner.cleanup()
    # 50 requests due within 0.5 s, served one per 100 ms: the last waits ~4.9 s + 0.1 s
    assert result.requests == 50
    assert result.latency_ms["p99"] > 3000


async def test_asyncio_status_histogram_matches_the_server() -> None:
    app = _status_app()
    runner, url = await _serve(app)
    try:
        settings = LoadSettings(connections=3, duration_s=1.0, warmup_s=0.0)
        result = await asyncio_driver.drive(url, MIXED_DECK, settings, progress=False)
    finally:
        await runner.cleanup()
    assert result.status == app[STATUS_COUNTS]
    assert set(result.status) == {"200", "201", "404", "503"}  # keys and bodies arrived


# ---- wrk driver -------------------------------------------------------------------------

@needs_wrk
@pytest.mark.slow
async def test_wrk_counts_what_upstream_answered(
        upstream: tuple[web.Application, str]) -> None:
    app, url = upstream
    settings = LoadSettings(connections=4, duration_s=1.0, warmup_s=1.0)
    result = await asyncio.to_thread(wrk.run, url, [RequestSpec("GET", "/a")], settings,
                                     progress=False)
    seen = app[REQUESTS][0]
    reported = result.warmup_requests + result.requests
    assert result.errors == 0
    assert result.requests > 100
    assert result.status == {"200": result.requests}
    # wrk drops up to one in-flight request per connection at the end of each invocation
    assert reported <= seen <= reported + 2 * settings.connections
    _check_percentiles(result)


@needs_wrk
@pytest.mark.slow
async def test_wrk_script_sends_methods_headers_bodies_and_counts_statuses() -> None:
    app = _status_app()
    runner, url = await _serve(app)
    try:
        settings = LoadSettings(connections=3, duration_s=1.0, warmup_s=0.0)
        result = await asyncio.to_thread(wrk.run, url, MIXED_DECK, settings, progress=False)
    finally:
        await runner.cleanup()
    seen = app[STATUS_COUNTS]
    assert set(result.status) == {"200", "201", "404", "503"} == set(seen)
    for code, n in result.status.items():
        assert n <= seen[code] <= n + settings.connections


@needs_wrk
def test_wrk_lua_quotes_what_it_embeds() -> None:
    script = wrk.lua_script("/st", [RequestSpec("GET", '/p"\\', (("h", "v\n"),))])
    assert '"/st/p\\"\\\\"' in script
    assert '["h"]="v\\010"' in script


# ---- scenarios ------------------------------------------------------------------------

def test_builtin_scenarios_load_and_their_decks_follow_the_weights() -> None:
    names = {s.name for s in discover()}
    assert {"proxy", "throttled", "over-limit", "cached", "api-key", "slow-backend",
            "production"} <= names
    (slow,) = discover(["slow-backend"])
    deck = slow.deck()
    share = sum(r.path.startswith("/slow/") for r in deck) / len(deck)
    assert 0.07 < share < 0.13  # weight 1 in 10
    assert deck == slow.deck()  # the same sequence for every target


def test_production_deck_mixes_zipf_paths_and_keys() -> None:
    (prod,) = discover(["production"])
    deck = prod.deck()
    item_paths = [r.path for r in deck if r.path.startswith("/items/")]
    # Zipf s=1.1 over 10,000 paths: rank 1 takes ~23%, yet hundreds of paths appear
    assert item_paths.count("/items/1") > len(item_paths) / 10
    assert len(set(item_paths)) > 100
    valid = set(prod.api_keys.values())
    keyed = [dict(r.headers).get("x-api-key") for r in deck if r.path.startswith("/keyed/")]
    assert any(k in valid for k in keyed)
    assert any(k is not None and k.startswith("invalid-") for k in keyed)
    config = render_config(prod, "127.0.0.1:9")
    assert config["apis"][0]["stages"]["bench"]["variables"] == {"backend": "127.0.0.1:9"}
    assert Path(config["apis"][0]["definition"]).is_file()
    plan = next(p for p in config["usagePlans"] if p["id"] == "bench-plan")
    assert len(plan["apiKeys"]) == 100 == len(config["apiKeys"])


def test_observed_access_log_goes_to_the_run_workdir(tmp_path: Path) -> None:
    (observed,) = discover(["observed"])
    config = render_config(observed, "127.0.0.1:9", tmp_path)
    settings = config["apis"][0]["stages"]["bench"]["accessLogSettings"]
    assert settings == {"format": "JSON", "destination": f"{tmp_path}/observed-access.log"}


def test_scenario_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrequests:\n  - {path: /a, api_key: maybe}\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: requests\[0\]\.api_key"):
        load(bad)


# ---- the report's shape ---------------------------------------------------------------

def _result(**kw: Any) -> RunResult:
    base: dict[str, Any] = dict(driver="asyncio", requests=100, errors=0, elapsed_s=1.0,
                                latency_ms={"p50": 1.0, "p90": 2.0, "p99": 3.0, "p999": 4.0},
                                status={"200": 100})
    return RunResult(**{**base, **kw})


def test_report_validation_accepts_the_contract_example_and_rejects_renames() -> None:
    example = {"machine": {"cpus": 2, "python": "3.11.7"},
               "runs": [{"scenario": "proxy", "target": "sluice", "rps": 12000.0, "errors": 0,
                         "latency_ms": {"p50": 1.1, "p90": 2.0, "p99": 4.2, "p999": 9.0},
                         "status": {"200": 120000}}]}
    assert validate_report(example) == []
    renamed = json.loads(json.dumps(example))
    renamed["runs"][0]["latency_ms"]["p99.9"] = renamed["runs"][0]["latency_ms"].pop("p999")
    assert validate_report(renamed) == ["runs[0].latency_ms.p999: a number >= 0"]
    no_cpus = json.loads(json.dumps(example))
    del no_cpus["machine"]["cpus"]
    assert validate_report(no_cpus) == ["machine.cpus: a positive integer"]
    bad_status = json.loads(json.dumps(example))
    bad_status["runs"][0]["status"] = {"ok": 1}
    assert validate_report(bad_status) != []


def test_aggregate_takes_medians_and_sums_statuses() -> None:
    runs = [_result(requests=100, latency_ms={"p50": 1, "p90": 2, "p99": 3, "p999": 9}),
            _result(requests=300, status={"200": 290, "429": 10},
                    latency_ms={"p50": 5, "p90": 6, "p99": 7, "p999": 8}),
            _result(requests=200, latency_ms={"p50": 2, "p90": 3, "p99": 4, "p999": 5})]
    entry = aggregate("proxy", "sluice", runs)
    assert entry["rps"] == 200.0
    assert entry["latency_ms"] == {"p50": 2, "p90": 3, "p99": 4, "p999": 8}
    assert entry["status"] == {"200": 490, "429": 10}
    doc = {"machine": {"cpus": 1, "python": "3.11"}, "runs": [entry]}
    assert validate_report(doc) == []


# ---- end to end -------------------------------------------------------------------------

async def _bench(*args: str, limit_s: float = 45.0) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), limit_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.mark.slow
async def test_compare_writes_contract_json_and_plots(tmp_path: Path) -> None:
    targets = ["direct", "naive-aiohttp"] + (["nginx"] if shutil.which("nginx") else [])
    code, out = await _bench(
        "compare", "--scenarios", "proxy", "--duration", "1", "--repeats", "1",
        "--connections", "8", "--targets", ",".join(targets), "--json",
        str(tmp_path / "r.json"), "--plots", str(tmp_path), "--no-progress")
    assert code == 0, out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert validate_report(doc) == []
    assert {r["target"] for r in doc["runs"]} == set(targets)
    for run in doc["runs"]:
        assert run["scenario"] == "proxy"
        assert run["errors"] == 0 and run["rps"] > 0
        assert run["status"] == {"200": run["requests"]}
    naive = next(r for r in doc["runs"] if r["target"] == "naive-aiohttp")
    assert "direct" in naive["vs"]
    for png in ("throughput.png", "latency.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "naive-aiohttp" in out  # the table


@pytest.mark.slow
async def test_compare_reverses_target_order_in_odd_rounds(tmp_path: Path) -> None:
    code, out = await _bench(
        "compare", "--scenarios", "proxy", "--duration", "1", "--repeats", "3",
        "--connections", "2", "--targets", "direct,naive-aiohttp", "--no-progress",
        limit_s=90.0)
    assert code == 0, out
    runs = [line.split(":")[0].split() for line in out.splitlines()
            if line.strip().startswith("proxy ") and " #" in line]
    first = [target for target, round_ in ((r[1], r[2]) for r in runs) if round_ == "#1"]
    assert sorted(first) == ["direct", "naive-aiohttp"]
    assert [(r[1], r[2]) for r in runs] == [
        (first[0], "#1"), (first[1], "#1"), (first[1], "#2"), (first[0], "#2"),
        (first[0], "#3"), (first[1], "#3")]


@pytest.mark.slow
async def test_compare_interleave_alternates_rounds_across_scenarios(tmp_path: Path) -> None:
    code, out = await _bench(
        "compare", "--scenarios", "proxy,bare", "--duration", "1", "--repeats", "2",
        "--connections", "4", "--targets", "sluice", "--interleave",
        "--json", str(tmp_path / "r.json"), "--no-progress", limit_s=90.0)
    assert code == 0, out
    rounds = [line.split(":")[0].strip() for line in out.splitlines()
              if line.strip().startswith(("proxy sluice #", "bare sluice #"))]
    # odd rounds in reverse: neither scenario always runs first
    assert rounds == ["proxy sluice #1", "bare sluice #1", "bare sluice #2", "proxy sluice #2"]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert validate_report(doc) == []
    assert [(r["scenario"], r["repeats"]) for r in doc["runs"]] == [("proxy", 2), ("bare", 2)]


@pytest.mark.slow
async def test_run_drives_an_existing_deployment(
        upstream: tuple[web.Application, str], tmp_path: Path) -> None:
    app, url = upstream
    code, out = await _bench(
        "run", "--target", url, "--scenario", "slow-backend", "--duration", "1",
        "--warmup", "0.2", "--connections", "4", "--driver", "asyncio", "--json",
        str(tmp_path / "r.json"), "--no-progress")
    assert code == 0, out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert validate_report(doc) == []
    (run,) = doc["runs"]
    sample = run["samples"][0]
    assert sample["warmup_requests"] + run["requests"] + run["errors"] == app[REQUESTS][0]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# A child that starts a sleeper while a timer thread sends it SIGINT at a random moment, many
# times, and counts the children still running after stop_all. Before the supervisor held
# interrupts across Popen, about one start in 15 orphaned its child.
_SPAWN_UNDER_INTERRUPTS = """
import os, random, signal, sys, tempfile, threading
from pathlib import Path
from bench.targets import Supervisor

def running_children():
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != "Z":
                out.append(int(entry))
    return out

sup = Supervisor(Path(tempfile.mkdtemp()))
random.seed(int(sys.argv[2]))
leaked = interrupted = 0
for _ in range(int(sys.argv[1])):
    timer = threading.Timer(random.uniform(0, 0.004), os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        sup.spawn("sleeper", ["sleep", "30"])
        timer.join()
    except KeyboardInterrupt:
        interrupted += 1
    finally:
        timer.join()
        try:
            sup.stop_all()
        except KeyboardInterrupt:
            interrupted += 1
    for pid in running_children():
        leaked += 1
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
print(leaked, interrupted)
"""


async def test_an_interrupt_while_a_child_starts_never_orphans_it(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SPAWN_UNDER_INTERRUPTS, "150", "7", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_default_sigint)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    leaked, interrupted = map(int, out.split())
    assert interrupted == 150  # every interrupt reached the caller, none was swallowed
    assert leaked == 0


def _default_sigint() -> None:
    """In the child: SIGINT as a terminal would deliver it. A job started in the background by
    a non-interactive shell inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt: these tests would fail (and the interrupted compare orphan children)
    only because of how the suite was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"


@pytest.mark.slow
async def test_compare_interrupted_stops_every_process_it_started(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", "compare", "--scenarios", "proxy", "--duration", "20",
        "--repeats", "1", "--connections", "2", "--driver", "asyncio", "--targets",
        "naive-aiohttp,direct", "--no-progress", cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_default_sigint, start_new_session=True)
    assert proc.stderr is not None
    try:
        # the scenario's line comes before its targets start, so the interrupt may land while
        # one is still starting: that must orphan nothing either
        line = b""
        while b"proxy" not in line:
            line = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert line, "compare exited early"
        children: set[int] = set()
        for _ in range(100):
            children = descendants(proc.pid)
            if len(children) >= 2:  # upstream (nginx: master and worker) and naive proxy
                break
            await asyncio.sleep(0.05)
        assert len(children) >= 2
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 20)
    finally:
        if proc.returncode is None:  # the test failed: leave no process of the group behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.returncode == 130
    left = {pid: _cmdline(pid) for pid in children if _alive(pid)}
    assert not left


# ---- Redis figures and the over-limit summary ---------------------------------------------

@pytest.mark.redis
def test_redis_calls_per_request_leave_out_the_harness_commands(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.config_resetstat()
        for _ in range(30):
            client.incr("n")
        client.get("n")
        calls = redis_calls(client)
    finally:
        client.close()
    assert calls == {"incrby": 30, "get": 1}  # redis-py sends INCR as INCRBY
    summary = redis_summary([(10, calls), (20, {"incrby": 29})])
    assert summary["calls"] == 60
    assert summary["calls_per_request"] == 2.0
    assert summary["commands"] == {"get": 1, "incrby": 59}


def test_admitted_summary_compares_with_a_fresh_bucket() -> None:
    settings = LoadSettings(duration_s=10.0, warmup_s=0.0, rate=1000.0)
    runs = [_result(status={"200": n, "429": 10_000 - n}) for n in (5200, 5300, 9000)]
    out = admitted_summary({"rateLimit": 500, "burstLimit": 250}, settings, runs)
    assert out["expected_total"] == 5250  # burst + rate * duration
    assert out["admitted_total"] == 5300  # the median run
    assert out["admitted_rps"] == 530.0
    assert out["admitted_vs_expected"] == pytest.approx(5300 / 5250, abs=1e-3)


@pytest.mark.slow
def test_idle_connections_are_held_and_measured() -> None:
    from bench.idle import run as idle

    result = idle(50, timeout=60)
    assert result["connections"] == 50
    assert int(result["open_at_gateway"]) >= 50  # type: ignore[call-overload]
    assert float(result["rss_mb_with_connections"]) >= float(  # type: ignore[arg-type]
        result["rss_mb_idle_process"])  # type: ignore[arg-type]


def test_slope_per_minute_is_least_squares() -> None:
    from bench.soak import slope_per_minute

    assert slope_per_minute([(0, 1.0), (30, 2.0), (60, 3.0)]) == pytest.approx(2.0)
    assert slope_per_minute([(0, 5.0), (10, 3.0), (20, 5.0), (30, 3.0)]) == pytest.approx(-2.4)
    assert slope_per_minute([(0, 5.0)]) == 0.0


@pytest.mark.slow
def test_soak_samples_the_gateway_under_a_mixed_load() -> None:
    from bench.soak import run as soak

    doc = soak(3.0, 1.0, "memory")
    statuses = set(doc["status"])
    assert {"200", "403", "429"} <= statuses  # cached/proxied/keyed, refused keys, throttled
    assert doc["errors"] == 0
    assert len(doc["samples"]) >= 3
    assert doc["samples"][-1]["sockets"] > doc["samples"][0]["sockets"]  # the load's connections
    assert doc["samples"][-1]["tasks"] > 0
    assert set(doc["series"]) == {"rss_mb", "fds", "sockets", "tasks"}
