"""The example `make run` serves (examples/sluice.yaml), run as `sluice serve` with the example
backend: its HTTP_PROXY, MOCK, API key, Lambda, templated HTTP, validated and CORS routes answer
as its printed hints say."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.processes import alive, descendants
from tests.support.redis_server import free_port
from tests.support.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example(tmp_path: Path) -> Iterator[GatewayProcess]:
    """The example on free ports: the backend's port put where the config names 9001."""
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    config = copy / "sluice.yaml"
    config.write_text(config.read_text().replace("127.0.0.1:9001", f"127.0.0.1:{port}"))
    backend = subprocess.Popen([sys.executable, str(copy / "backend.py"), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gateway = GatewayProcess(config)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()
        backend.terminate()
        backend.wait(10)


async def test_the_example_serves_each_kind_of_route(example: GatewayProcess) -> None:
    base = f"{example.url}/prod"
    async with aiohttp.ClientSession() as http:
        async def get(path: str, **kw: object) -> tuple[int, object]:
            async with http.get(base + path, **kw) as r:  # type: ignore[arg-type]
                return r.status, await r.json(content_type=None)

        for _ in range(20):  # the backend may still be starting
            status, pets = await get("/pets")
            if status == 200:
                break
        assert status == 200 and isinstance(pets, list) and pets
        assert (await get("/health"))[0] == 200
        assert (await get("/orders"))[0] == 403
        assert (await get("/orders", headers={"x-api-key": "alice-0123456789abcdefghij"}))[0] \
            == 200
        status, lambda_pets = await get("/lambda/pets")
        assert status == 200 and lambda_pets == [{"id": "1", "type": "dog", "price": 249.99}]
        async with http.post(base + "/lambda/pets", json={"type": "cat", "price": 9.5}) as r:
            assert r.status == 201 and (await r.json())["type"] == "cat"
        assert (await get("/lambda/pets/2"))[1] == {"id": "2", "type": "cat", "price": 9.5}
        assert await get("/lambda/fails") == (502, {"message": "Internal server error"})
        # the TOKEN-authorized route, as the README's curl lines show it
        assert await get("/lambda/me") == (401, {"message": "Unauthorized"})
        assert await get("/lambda/me", headers={"Authorization": "Bearer allow-alice"}) == (
            200, {"principal": "alice", "plan": "gold", "admin": "true"})
        assert (await get("/lambda/me", headers={"Authorization": "Bearer deny"}))[0] == 403
        assert (await get("/lambda/me", headers={"Authorization": "Bearer nope"}))[0] == 401
        status, slept = await get("/lambda/slow?seconds=0")
        assert status == 200 and slept["slept"] == 0  # type: ignore[index]


async def test_the_example_templated_validated_and_cors_routes(example: GatewayProcess) -> None:
    base = f"{example.url}/prod"
    async with aiohttp.ClientSession() as http:
        for _ in range(20):  # the backend may still be starting
            async with http.get(base + "/templated/pets?type=dog") as r:
                if r.status == 200:
                    doc = await r.json()
                    break
        assert doc == {"count": 1, "stage": "prod", "pets": [
            {"id": "1", "label": "dog for 249.99", "premium": True}]}
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        async with http.post(base + "/templated/pets", json={"kind": "cat", "price": 5}) as r:
            assert r.status == 201
            created = await r.json()
            assert created["type"] == "cat" and isinstance(created["created"], int)
        async with http.post(base + "/templated/pets", data="kind=cat",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
            assert r.status == 415
        # validation: the header first, then the body against the Pet model
        async with http.post(base + "/validated/pets", json={"type": "cat", "price": 5}) as r:
            assert r.status == 400
            assert (await r.json())["message"] == "Missing required request parameters: [x-client]"
        async with http.post(base + "/validated/pets", json={"type": "bird", "price": 1},
                             headers={"x-client": "docs"}) as r:
            assert r.status == 400
            doc = await r.json()
            assert doc["message"] == "Invalid request body"
            assert "bird" in doc["detail"] and "enum" in doc["detail"]
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        async with http.post(base + "/validated/pets", json={"type": "fish", "price": 1},
                             headers={"x-client": "docs"}) as r:
            assert r.status == 201
        # CORS preflight as a browser sends it
        async with http.options(base + "/pets", headers={
                "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type"}) as r:
            assert r.status == 200
            assert r.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        # compression: the API compresses bodies of 1 KB or more
        async with http.get(base + "/anything/" + "x" * 1100,
                            headers={"Accept-Encoding": "gzip"}) as r:
            assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"


def start_make_run(script: Path, config: Path, backend_port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(script), str(config), "--backend-port", str(backend_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=EXAMPLES.parent,
        # as a non-interactive shell starts a background job: SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_make_run_stops_everything_it_started(tmp_path: Path, signum: int) -> None:
    """`make run` (examples/run.py) killed by a signal only it receives, as a background job or
    a supervisor sends it: the backend, the gateway and its function instances all stop."""
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    backend, listen, admin = free_port(), free_port(), free_port()
    config = copy / "sluice.yaml"
    config.write_text(config.read_text().replace("127.0.0.1:9001", f"127.0.0.1:{backend}")
                      .replace("127.0.0.1:8080", f"127.0.0.1:{listen}")
                      .replace("127.0.0.1:8081", f"127.0.0.1:{admin}"))
    run = start_make_run(copy / "run.py", config, backend)
    started: set[int] = set()
    try:
        async with aiohttp.ClientSession() as http:
            async def lambda_answers() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{listen}/prod/lambda/pets") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(lambda_answers, within=30, what="the example's Lambda route")
        started = descendants(run.pid)
        assert len(started) >= 3  # the backend, the gateway, a function instance
        run.send_signal(signum)
        assert await asyncio.to_thread(run.wait, 20) in (0, 130)
        await eventually(lambda: not any(alive(pid) for pid in started), within=10,
                         what="every process make run started has stopped")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
