"""A fast benchmark upstream: an aiohttp app on uvloop answering every request with a fixed body.

``latency_ms`` delays every response; paths under ``slow_prefix`` wait ``slow_ms`` instead
(the slow-backend scenario sends a share of its requests there). The app counts the requests
it answered under ``REQUESTS`` so tests can compare a driver's figures with what arrived.
``REFERENCE_PATH`` answers the VTL reference pair's backend body (ten results for the response
template, ``bench/micro/vtl_reference.py``), as the nginx upstream does.

    python -m bench.upstream [--host 127.0.0.1] [--port 0] [--body-bytes 256] [--latency-ms 0]
                             [--slow-prefix /slow/] [--slow-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass

import uvloop
from aiohttp import web

from bench.micro.vtl_reference import RESPONSE_BODY

__all__ = ["REFERENCE_BODY", "REFERENCE_PATH", "REQUESTS", "UpstreamSettings", "body_of", "main",
           "make_app"]

REFERENCE_PATH = "/reference/results"
REFERENCE_BODY = RESPONSE_BODY.encode()

REQUESTS = web.AppKey("requests", list[int])


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    body_bytes: int = 256
    latency_ms: float = 0.0
    slow_prefix: str = "/slow/"
    slow_ms: float = 0.0


def body_of(size: int) -> bytes:
    """A JSON body of exactly ``size`` bytes (at least 12), the same for nginx and this app."""
    filler = max(0, size - len(b'{"data":""}'))
    return b'{"data":"' + b"x" * filler + b'"}'


def make_app(settings: UpstreamSettings) -> web.Application:
    """The upstream app; ``app[REQUESTS][0]`` is the number of requests answered."""
    body = body_of(settings.body_bytes)
    base_delay = settings.latency_ms / 1000.0
    slow_delay = settings.slow_ms / 1000.0
    slow_prefix = settings.slow_prefix
    app = web.Application()
    counter = [0]
    app[REQUESTS] = counter

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        counter[0] += 1
        delay = slow_delay if slow_prefix and request.path.startswith(slow_prefix) else base_delay
        if delay > 0:
            await asyncio.sleep(delay)
        return web.Response(body=REFERENCE_BODY if request.path == REFERENCE_PATH else body,
                            content_type="application/json")

    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _serve(host: str, port: int, settings: UpstreamSettings) -> None:
    runner = web.AppRunner(make_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    assert runner.addresses
    bound = runner.addresses[0]
    print(f"bench upstream listening on http://{bound[0]}:{bound[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--body-bytes", type=int, default=256)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--slow-prefix", default="/slow/")
    parser.add_argument("--slow-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    settings = UpstreamSettings(args.body_bytes, args.latency_ms, args.slow_prefix, args.slow_ms)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve(args.host, args.port, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
