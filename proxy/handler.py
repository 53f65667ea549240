"""The request's walk, in AWS order (ARCHITECTURE.md; the phases are ``proxy.phases``), and the
one boundary where every ``GatewayError`` becomes its gateway response.

1. stage lookup (403 Forbidden), dot segments resolved, HTTP/0.9 refused (400)
2. the body: 413 above 10 MB, a small one read now within the body timeout (408)
3. in-flight admission (429, level concurrency), released on every way out
4. the stage's guard: the resource policy's first phase (403 for a Deny) (``Stage.guard``)
5. route (403 Missing Authentication Token)
6. the route's phases: authorizer (401/403/500), API key (403), throttle and quota (429), ...
   (``MethodRoute.phases``)
7. the route's responder: cache lookup, the integration with its timeout (504) and failures
   (502 / 500), the response
8. metrics and access log (``proxy.record``)
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.http import HttpVersion10

from proxy.auth.sigv4 import unmatched_route
from proxy.body import at_once, read_small
from proxy.context import RequestContext
from proxy.deployment import Deployment, Stage
from proxy.errors import (
    ApiConfigurationError,
    BadRequest,
    GatewayError,
    StageNotFound,
    Throttled,
)
from proxy.headers import request_ids
from proxy.paths import remove_dot_segments
from proxy.record import Recorder
from proxy.respond import client_gone, gateway_error
from proxy.response import RawResponse
from ratelimit import InFlight

log = logging.getLogger("sluice.handler")


class Gateway:
    """Holds the live deployment and the in-flight counter; ``handle`` serves one request."""

    def __init__(self, deployment: Deployment, *, inflight: InFlight, recorder: Recorder) -> None:
        self.deployment = deployment
        self.inflight = inflight
        self.recorder = recorder

    def swap(self, deployment: Deployment) -> None:
        """Atomically replace the deployment; requests in flight keep the one they started on."""
        self.recorder.forget()
        self.deployment = deployment

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        start = time.perf_counter()
        headers = request.headers
        epoch_ms = int(time.time() * 1000)
        rid, apigw_id, trace = request_ids(headers.get("x-amzn-RequestId"), epoch_ms // 1000)
        ctx = RequestContext(rid, apigw_id, start, epoch_ms, trace)
        ctx.request = request
        ctx.http_method = request.method
        ctx.source_ip = request.remote
        ctx.user_agent = headers.get("User-Agent")
        ctx.domain_name = request.host
        deployment = self.deployment
        stage: Stage | None = None
        response: web.StreamResponse
        try:
            stage = locate(deployment, request, ctx)
            response = await self._serve(request, ctx, stage, deployment)
        except GatewayError as err:
            response = (client_gone(ctx) if _gone(request)
                        else gateway_error(err, ctx, stage.responses if stage else None))
        except Exception:
            if _gone(request):  # the client left mid-request (a reset while reading its body)
                response = client_gone(ctx)
            else:  # a bug must still answer once, and be seen
                log.exception("unexpected error handling request %s", ctx.request_id)
                response = gateway_error(ApiConfigurationError(), ctx,
                                         stage.responses if stage else None)
        else:
            if type(response) is RawResponse and _gone(request):  # not written yet: never will be
                response = client_gone(ctx)
        ctx.status = response.status
        self.recorder.finish(ctx, stage)
        return response

    async def _serve(self, request: web.BaseRequest, ctx: RequestContext, stage: Stage,
                     deployment: Deployment) -> web.StreamResponse:
        body = at_once(request, deployment.body_timeout_s)
        ctx.body = body if body is not None else await read_small(request,
                                                                   deployment.body_timeout_s)
        if not self.inflight.try_acquire():
            raise Throttled("concurrency")
        try:
            if stage.guard is not None:
                stage.guard(ctx)
            match = stage.router.match(request.method, ctx.rest_path)
            if match is None:
                headers = request.headers
                raise unmatched_route(headers.get("Authorization"),
                                      "X-Amz-Date" in headers or "Date" in headers)
            route = match.value
            ctx.route = route
            ctx.resource_path = route.resource_path
            ctx.resource_id = route.resource_id
            ctx.path_params = match.path_params
            for phase in route.phases:
                waiting = phase(ctx)
                if waiting is not None:  # a phase that must wait (a remote store)
                    await waiting
            return await route.respond(ctx)
        finally:
            self.inflight.release()


def locate(deployment: Deployment, request: web.BaseRequest, ctx: RequestContext) -> Stage:
    """The stage the request names (by the single API, the Host or the /restapis/ path), with
    the path after it (dot segments resolved) and the raw query on the request state."""
    if request.version < HttpVersion10:  # HTTP/0.9: no headers, no Host, no status line
        raise BadRequest()
    path, _, ctx.query_string = request.raw_path.partition("?")
    path = remove_dot_segments(path)
    api_id = deployment.single_api
    if path.startswith("/restapis/"):
        parts = path.split("/", 5)
        if len(parts) < 5 or parts[4] != "_user_request_":
            raise StageNotFound()
        api_id, stage_name = parts[2], parts[3]
        rest = "/" + (parts[5] if len(parts) > 5 else "")
    else:
        if api_id is None:
            host = request.host.lower()
            if ".execute-api." in host:
                api_id = deployment.host_apis.get(host.partition(".")[0])
        _, _, after = path.partition("/")
        stage_name, _, tail = after.partition("/")
        rest = "/" + tail
    ctx.api_id = api_id
    ctx.account_id = deployment.account_id
    stage = deployment.stage(api_id, stage_name) if api_id else None
    if stage is None:
        raise StageNotFound()
    ctx.stage = stage_name
    ctx.rest_path = rest
    ctx.path = f"/{stage_name}{rest}" if rest != "/" else f"/{stage_name}/"
    return stage


def _gone(request: web.BaseRequest) -> bool:
    """Whether the client has closed its connection (or it broke)."""
    transport = request.transport
    return transport is None or transport.is_closing()
