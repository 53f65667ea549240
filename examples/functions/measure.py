"""Measure the invocation path itself: ``Function.invoke`` of a trivial Python handler under
awslambdaric, with a ~2.4 KB proxy event, at a given concurrency; and cold starts.

    .venv/bin/python examples/functions/measure.py [--concurrency 64] [--seconds 5]
        [--instances 2] [--cold 20]

Prints invocations/s, p50/p99 latency, the median cold start (spawn to first response) and
the resident memory of one warm instance.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from proxy.config.model import AwsSettings, FunctionConfig
from proxy.functions import Functions, LocalFunction
from proxy.upstream import PoolUpstream

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
EVENT = orjson.dumps({
    "resource": "/{proxy+}", "path": "/hello/world", "httpMethod": "GET",
    "headers": {f"X-Header-{i}": "v" * 40 for i in range(20)},
    "multiValueHeaders": {f"X-Header-{i}": ["v" * 40] for i in range(20)},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": {"proxy": "hello/world"}, "stageVariables": None,
    "requestContext": {"accountId": "123456789012", "apiId": "abc", "stage": "prod",
                       "requestId": "x" * 36, "identity": {"sourceIp": "127.0.0.1"}},
    "body": None, "isBase64Encoded": False})


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--instances", type=int, default=2, help="reservedConcurrency")
    parser.add_argument("--cold", type=int, default=20, help="cold starts to time")
    args = parser.parse_args()
    code = Path(tempfile.mkdtemp())
    (code / "app.py").write_text(HANDLER)
    up = PoolUpstream()
    cfg = FunctionConfig("hello", handler="app.handler", code_uri=str(code),
                         reserved_concurrency=args.instances)
    fns = Functions({"hello": cfg}, upstream=up, aws=AwsSettings())
    fn = fns.get("hello")
    assert isinstance(fn, LocalFunction)
    loop = asyncio.get_running_loop()
    print(f"event {len(EVENT)} bytes, concurrency {args.concurrency}, "
          f"reservedConcurrency {args.instances}, loop {type(loop).__module__}")
    latencies: list[float] = []
    stop = loop.time() + args.seconds

    async def caller() -> None:
        while loop.time() < stop:
            began = time.perf_counter()
            await fn.invoke(EVENT, deadline=loop.time() + 30)
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(fn.invoke(EVENT, deadline=loop.time() + 30)
                           for _ in range(args.instances)))  # warm
    began = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(caller() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    latencies.sort()
    print(f"warm: {len(latencies) / elapsed:,.0f} invocations/s, "
          f"p50 {latencies[len(latencies) // 2] * 1000:.3f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.3f} ms, "
          f"caller CPU {cpu / len(latencies) * 1e6:.0f} us per invocation")
    print("instance RSS: " + ", ".join(f"{rss_mb(p):.1f} MB" for p in fn.pids))
    await fns.aclose()
    colds = []
    for _ in range(args.cold):
        fns = Functions({"hello": cfg}, upstream=up, aws=AwsSettings())
        f = fns.get("hello")
        assert f is not None
        began = time.perf_counter()
        result = await f.invoke(EVENT, deadline=loop.time() + 30)
        colds.append((time.perf_counter() - began) * 1000)
        assert result.cold_start
        await fns.aclose()
    print(f"cold start to first response: median {statistics.median(colds):.1f} ms "
          f"(min {min(colds):.1f}, max {max(colds):.1f}, n={len(colds)})")
    await up.aclose()
    os.sync()


if __name__ == "__main__":
    if os.environ.get("SLUICE_LOOP", "uvloop") == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main())
