"""Response compression (spec 10.4): around the responder of every method of an API with
``minimumCompressionSize``, whatever its integration type (a cache hit included), a body at
or above the threshold is sent gzip or deflate encoded when the client's ``Accept-Encoding``
prefers one (``proxy.encoding.response_coding``). An API without the setting gets no wrapper:
its methods pay nothing.

The cache keeps bodies as the integration gave them, so one entry serves clients of every
``Accept-Encoding``. A body the integration already encoded (it has ``Content-Encoding``) is
left alone; so are statuses without a body and HEAD answers.
"""

from __future__ import annotations

from aiohttp import web

from proxy._types import Responder
from proxy.context import RequestContext
from proxy.encoding import compress, response_coding
from proxy.response import RawResponse

__all__ = ["responder"]


def responder(inner: Responder, minimum_size: int) -> Responder:
    async def respond(ctx: RequestContext) -> web.StreamResponse:
        response = await inner(ctx)
        request = ctx.request
        assert request is not None
        accept = request.headers.get("Accept-Encoding")
        if not accept or type(response) is not RawResponse:
            return response
        status = response.status
        if status < 200 or status in (204, 304) or request.method == "HEAD":
            return response
        body = response.raw_body
        headers = response.raw_headers
        encoded = any(name.lower() == "content-encoding" for name, _ in headers)
        coding = response_coding(minimum_size, accept, encoded, len(body))
        if coding is None:
            return response
        body = compress(body, coding)
        ctx.response_length = len(body)
        return response.with_body([*headers, ("Content-Encoding", coding)], body)

    return respond
