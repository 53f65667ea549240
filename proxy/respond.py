"""Responses: an integration's outcome as the client gets it, a gateway error as its gateway
response, and the 499 of a client that left.

Every response carries ``x-amzn-RequestId``, ``x-amz-apigw-id`` and (integration answers and
integration errors) ``X-Amzn-Trace-Id``, set by the gateway over any header of those names from
the integration. A body already in memory goes out as one prepared byte string
(``proxy.response.RawResponse``); a backend body still arriving is relayed as it comes, and once
its status line is out an error can only cut the connection, never start a second response.
"""

from __future__ import annotations

import logging

from aiohttp import web

from proxy.bounded_log import BoundedLog
from proxy.context import RequestContext
from proxy.errors import GatewayError, QuotaExceeded, Throttled, UpstreamError
from proxy.gateway_responses import StageGatewayResponses
from proxy.headers import GATEWAY_OWN
from proxy.integrations.base import Outcome
from proxy.response import CLIENT_CLOSED, RawResponse

__all__ = ["buffered", "client_gone", "gateway_error", "stream"]

log = logging.getLogger("sluice.handler")
# a client that aborts thousands of requests must not write thousands of lines
_gone_log = BoundedLog(log)


_DEFAULT_RESPONSES = StageGatewayResponses({}, {})
_TRACED = frozenset({"INTEGRATION_TIMEOUT", "INTEGRATION_FAILURE", "API_CONFIGURATION_ERROR"})
# Set by the gateway on every response, so an integration's header of the same name is dropped
# (aiohttp's header dict used to overwrite it the same way).
_GATEWAY_OWN = GATEWAY_OWN
_ERROR_OWN = _GATEWAY_OWN - {"x-amzn-trace-id"}


def buffered(ctx: RequestContext, status: int, headers: list[tuple[str, str]], body: bytes,
             content_type_default: bool = True, clean: bool = False) -> RawResponse:
    """An answer whose body is in memory (a backend's small body, a cache hit, MOCK)."""
    if ctx.integration_latency_ms is not None and ctx.integration_status is None:
        ctx.integration_status = status
    ctx.response_length = len(body)
    if not clean:
        headers = integration_headers(headers, content_type_default)
    return RawResponse(status, headers, body,
                       f"x-amzn-RequestId: {ctx.request_id}\r\n"
                       f"x-amz-apigw-id: {ctx.extended_request_id}\r\n"
                       f"X-Amzn-Trace-Id: {ctx.trace_id}\r\n")


async def stream(ctx: RequestContext, outcome: Outcome) -> web.StreamResponse:
    """An outcome whose backend body is still to be read: relayed as it arrives."""
    upstream = outcome.upstream
    request = ctx.request
    assert upstream is not None and request is not None
    resp = web.StreamResponse(status=outcome.status)
    h = resp.headers
    for name, value in (outcome.headers if outcome.clean else
                        integration_headers(outcome.headers, outcome.content_type_default)):
        h.add(name, value)
    h["x-amzn-RequestId"] = ctx.request_id
    h["x-amz-apigw-id"] = ctx.extended_request_id
    h["X-Amzn-Trace-Id"] = ctx.trace_id
    length = next((v for k, v in outcome.headers
                   if k == "x-amzn-Remapped-Content-Length"), None)
    if length is not None and length.isdigit():
        resp.content_length = int(length)
    ctx.integration_status = outcome.status
    sent = 0
    started = False
    try:
        await resp.prepare(request)
        started = True
        async for chunk in upstream.stream():
            sent += len(chunk)
            await resp.write(chunk)
        await resp.write_eof()
    except (OSError, UpstreamError) as exc:
        if not started:
            raise
        # The status line is out: no second response can follow. Cut the connection so the
        # client sees a truncated body rather than a complete-looking short one.
        ctx.integration_error = f"response stream broken: {exc!r}"
        _cut(request)
    except Exception:
        if not started:
            raise
        # a bug after the status line: the same cut, never a second response on the wire
        log.exception("unexpected error streaming the response of request %s", ctx.request_id)
        ctx.integration_error = "response stream aborted"
        _cut(request)
    finally:
        upstream.release()
        ctx.response_length = sent
    return resp


def _cut(request: web.BaseRequest) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


def gateway_error(err: GatewayError, ctx: RequestContext,
                  responses: StageGatewayResponses | None) -> RawResponse:
    """``err`` as its gateway response, the stage's customisation applied."""
    ctx.error_response_type = err.response_type
    ctx.error_message = err.message
    rendered = (responses or _DEFAULT_RESPONSES).render(err.response_type, ctx, err.message,
                                                        err.error_type)
    traced = err.response_type in _TRACED
    # The gateway's own headers win over a customisation's header of the same name.
    own = _GATEWAY_OWN if traced else _ERROR_OWN
    h = [("Content-Type", rendered.content_type)]
    h += [(name, value) for name, value in rendered.headers if name.lower() not in own]
    own_lines = (f"x-amzn-RequestId: {ctx.request_id}\r\n"
                 f"x-amz-apigw-id: {ctx.extended_request_id}\r\n")
    if traced:
        own_lines += f"X-Amzn-Trace-Id: {ctx.trace_id}\r\n"
    ctx.response_length = len(rendered.body)
    if isinstance(err, Throttled):
        ctx.throttle_level = err.level
    elif isinstance(err, QuotaExceeded):
        ctx.throttle_level = "quota"
    return RawResponse(rendered.status, h, rendered.body, own_lines, err.close_connection)


def client_gone(ctx: RequestContext) -> RawResponse:
    """What is recorded when the client left before its answer: nginx's 499, which metrics do
    not count as a 4XX or 5XX error. Nothing is written (aiohttp finds the transport closed)."""
    _gone_log.info("client closed the connection before the response (request %s)",
                   ctx.request_id)
    ctx.response_length = 0
    return RawResponse(CLIENT_CLOSED, [], b"")


def integration_headers(headers: list[tuple[str, str]],
                        content_type_default: bool) -> list[tuple[str, str]]:
    """An integration's headers without the ones the gateway sets itself, and with the default
    Content-Type when asked for and none is given."""
    out = [(name, value) for name, value in headers if name.lower() not in _GATEWAY_OWN]
    if content_type_default and not any(name.lower() == "content-type" for name, _ in out):
        # "API Gateway includes a Content-Type header for all integration responses" (DG)
        out.append(("Content-Type", "application/json"))
    return out
