"""Request validation (spec 9): a method's required parameters and body model, after the
limits and before the cache, as AWS orders them (spec 8.7). A rejected request answers 400
BAD_REQUEST_PARAMETERS or BAD_REQUEST_BODY with AWS's message, and its detail is
``$context.error.validationErrorString`` for the gateway response's template.

The body is validated as the integration will see it: with its ``Content-Encoding`` undone
(AWS decompresses before validation; a coding it cannot undo is 415). A body already in memory
and not encoded is checked at once, with no coroutine; a large or encoded one is awaited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping

from aiohttp import hdrs

from proxy._types import Phase
from proxy.context import RequestContext
from proxy.validation import RequestValidationError, RequestValidator

__all__ = ["phase"]

_NO_QUERY: Mapping[str, str] = {}


def phase(validator: RequestValidator) -> Phase:
    reads_query = validator.reads_query
    checks_body = validator.checks_body
    check = validator.check

    def run(ctx: RequestContext, body: bytes | None) -> None:
        request = ctx.request
        assert request is not None
        headers = request.headers
        try:
            check(headers, ctx.path_params, request.query if reads_query else _NO_QUERY, body,
                  headers.get(hdrs.CONTENT_TYPE))
        except RequestValidationError as err:
            ctx.validation_error = err.validation_error_string
            raise

    async def decode_then_run(ctx: RequestContext, coding: str | None) -> None:
        assert ctx.body is not None
        run(ctx, await ctx.body.decoded(coding))

    def validate(ctx: RequestContext) -> Awaitable[None] | None:
        request = ctx.request
        assert request is not None
        headers = request.headers
        body = None
        if checks_body:
            request_body = ctx.body
            assert request_body is not None
            body = request_body.data
            # None: a large body left to stream, read now
            # header names as istr: no lower-casing per lookup (~0.4k instructions each)
            if body is None or (body and hdrs.CONTENT_ENCODING in headers):
                return decode_then_run(ctx, headers.get(hdrs.CONTENT_ENCODING))
        try:  # inline, not run(): one call fewer on the common path
            check(headers, ctx.path_params, request.query if reads_query else _NO_QUERY, body,
                  headers.get(hdrs.CONTENT_TYPE))
        except RequestValidationError as err:
            ctx.validation_error = err.validation_error_string
            raise
        return None

    return validate
