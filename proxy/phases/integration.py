"""The integration: the route's invoker with its timing (``IntegrationLatency``) and timeout
(504), and the response built from its outcome."""

from __future__ import annotations

import time

from aiohttp import web

from proxy._types import Responder
from proxy.context import RequestContext
from proxy.errors import IntegrationTimeout
from proxy.integrations.base import Invoker, Outcome
from proxy.respond import buffered, stream


async def integrate(invoker: Invoker, ctx: RequestContext) -> Outcome:
    """The invoker's outcome, timed unless it is MOCK (no backend: no IntegrationLatency)."""
    began = time.perf_counter()
    try:
        return await invoker.invoke(ctx)
    except IntegrationTimeout:
        ctx.integration_status = 504
        raise
    finally:
        if invoker.type_name != "MOCK":
            ctx.integration_latency_ms = (time.perf_counter() - began) * 1000


def responder(invoker: Invoker, whole: bool = False) -> Responder:
    """``whole``: a backend body still arriving is read whole before the response goes out
    (what compression needs), instead of being relayed as it arrives."""
    timed = invoker.type_name != "MOCK"
    invoke = invoker.invoke

    async def respond(ctx: RequestContext) -> web.StreamResponse:
        # integrate()'s timing inline: one coroutine frame fewer on every proxied request
        # (~1.5k of ~320k instructions, callgrind); the cache path calls integrate()
        began = time.perf_counter()
        try:
            outcome = await invoke(ctx)
        except IntegrationTimeout:
            ctx.integration_status = 504
            raise
        finally:
            if timed:
                ctx.integration_latency_ms = (time.perf_counter() - began) * 1000
        if outcome.upstream is None:  # the body is in memory: no coroutine to send it
            return buffered(ctx, outcome.status, outcome.headers, outcome.body or b"",
                            outcome.content_type_default, outcome.clean)
        if whole:
            return buffered(ctx, outcome.status, outcome.headers, await drain(outcome),
                            outcome.content_type_default, outcome.clean)
        return await stream(ctx, outcome)

    return respond


async def drain(outcome: Outcome) -> bytes:
    """The rest of a streamed backend body, read whole; the connection is released."""
    upstream = outcome.upstream
    assert upstream is not None
    try:
        chunks = [chunk async for chunk in upstream.stream()]
    finally:
        upstream.release()
    return b"".join(chunks)
