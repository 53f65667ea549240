"""The naive baseline: an aiohttp server forwarding each request through one ClientSession.

This is the proxy most people write first; ARCHITECTURE.md measured it at 4,600-4,800 rps on
two cores, a third of a keep-alive pool on ``asyncio.Protocol``. One process, uvloop.

    python -m bench.naive_proxy --upstream 127.0.0.1:PORT [--host 127.0.0.1] [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

__all__ = ["main", "make_app"]

SESSION = web.AppKey("session", aiohttp.ClientSession)

# Hop-by-hop headers (RFC 9110 7.6.1) and those aiohttp recomputes for the new message.
_DROP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                   "transfer-encoding", "upgrade", "host", "content-length"})


def make_app(upstream: str) -> web.Application:
    """A reverse proxy app sending everything to ``http://{upstream}``."""
    origin = f"http://{upstream}"
    app = web.Application()

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session_ctx)

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        body = await request.read()
        async with app[SESSION].request(request.method, origin + request.path_qs,
                                        headers=headers, data=body or None) as resp:
            payload = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in _DROP}
            return web.Response(status=resp.status, body=payload, headers=out)

    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def _serve(host: str, port: int, upstream: str) -> None:
    runner = web.AppRunner(make_app(upstream), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    bound = runner.addresses[0]
    print(f"naive proxy listening on http://{bound[0]}:{bound[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.naive_proxy")
    parser.add_argument("--upstream", required=True, help="HOST:PORT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve(args.host, args.port, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
