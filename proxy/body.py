"""The request body, read at most once, on the request state (``ctx.body``).

A body of up to ``STREAM_THRESHOLD`` bytes is read whole before the request is admitted
(``at_once``, then ``read_small``), within the body timeout: a client that stalls while sending
holds no in-flight slot and is cut off with 408. A larger body of known length is left on the
connection, so an HTTP integration can stream it to the backend as it arrives; a phase that
needs it whole (validation, a mapping template) awaits :meth:`RequestBody.read`, which reads it
once and keeps it, so the integration then sends the bytes instead of the stream.
:meth:`RequestBody.decoded` is the same body with its ``Content-Encoding`` undone, also once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from proxy.encoding import MAX_PAYLOAD_BYTES, decode_request_body
from proxy.errors import RequestTimeout, RequestTooLarge

if TYPE_CHECKING:
    from aiohttp import StreamReader, web

__all__ = ["STREAM_THRESHOLD", "RequestBody", "at_once", "read_small"]

# Request bodies up to this are read whole before admission; larger ones with a Content-Length
# are streamed to the backend as they arrive.
STREAM_THRESHOLD = 256 * 1024

_EMPTY = b""


class RequestBody:
    """``data``: the whole body once read (``b""`` for none); ``stream``: the unread body of a
    large request, until :meth:`read` takes it."""

    __slots__ = ("_decoded", "_length", "_timeout_s", "data", "stream")

    def __init__(self, data: bytes | None, stream: StreamReader | None = None,
                 length: int | None = None, timeout_s: float = 60.0) -> None:
        self.data = data
        self.stream = stream
        self._length = length
        self._timeout_s = timeout_s
        self._decoded: bytes | None = None

    @property
    def length(self) -> int | None:
        """The request's Content-Length, when it gave one."""
        return self._length

    async def read(self) -> bytes:
        """The whole body: read now if it was left to stream, at most once."""
        data = self.data
        if data is not None:
            return data
        stream = self.stream
        self.stream = None
        data = b"" if stream is None else await _read(stream, self._length, self._timeout_s)
        self.data = data
        return data

    async def decoded(self, content_encoding: str | None) -> bytes:
        """The whole body with its ``Content-Encoding`` undone, at most once: what templates,
        validation and a non-proxy backend see (AWS always decompresses a request body).
        ``UndecodableBody`` (415) for a coding AWS does not support or a body not in it,
        ``RequestTooLarge`` (413) past 10 MB decoded."""
        decoded = self._decoded
        if decoded is None:
            data = self.data
            if data is None:
                data = await self.read()
            if content_encoding is None:
                return data
            decoded = decode_request_body(data, content_encoding)
            if data:  # the empty body is one object shared by every request without one
                self._decoded = decoded
        return decoded


_NO_BODY = RequestBody(_EMPTY)


def at_once(request: web.BaseRequest, timeout_s: float) -> RequestBody | None:
    """The request's body when nothing needs reading (none, an empty one, one to stream), 413
    above 10 MB; None when a small body must be read first (``read_small``). No coroutine for
    a request without a body: most requests (a coroutine per request is ~1% of a proxied GET)."""
    length = request.content_length
    if length is not None:
        if length > MAX_PAYLOAD_BYTES:  # AWS's payload limit: 413 above it
            raise RequestTooLarge()
        if length == 0:
            return _NO_BODY
        if length > STREAM_THRESHOLD:
            return RequestBody(None, request.content, length, timeout_s)
        return None
    return None if request.body_exists else _NO_BODY


async def read_small(request: web.BaseRequest, timeout_s: float) -> RequestBody:
    """A body ``at_once`` left to read: read whole now, within ``timeout_s`` for all of it
    (408), a chunked one up to the 10 MB limit (413)."""
    length = request.content_length
    return RequestBody(await _read(request.content, length, timeout_s), None, length, timeout_s)


async def _read(stream: StreamReader, length: int | None, timeout_s: float) -> bytes:
    """A body of known length, or a chunked upload buffered up to the 10 MB limit (as AWS
    does), all of it within ``timeout_s`` (408 otherwise)."""
    try:
        async with asyncio.timeout(timeout_s):
            if length is not None:
                return await stream.readexactly(length)
            chunks = []
            total = 0
            while True:
                chunk = await stream.readany()
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_PAYLOAD_BYTES:
                    raise RequestTooLarge()
                chunks.append(chunk)
            return b"".join(chunks)
    except TimeoutError:
        raise RequestTimeout() from None
