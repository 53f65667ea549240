"""One keep-alive HTTP/1.1 connection to a backend, on ``asyncio.Protocol`` and httptools.

A ``Connection`` serves one exchange at a time (no pipelining): it writes a request head the
pool serialised (and the body), parses the response with httptools and hands back a
``PoolResponse``, whose body is buffered when small enough and streamed otherwise, reading the
socket no faster than the caller takes the chunks. A parser is reused only once it finished
its message, so it is never reused mid-message (a HEAD response is complete at its headers,
and httptools cannot be told the request was HEAD).

The connection knows its pool only as a ``ConnectionOwner``: the pool hands out idle
connections (marking them ``ACTIVE``), stamps ``idle_since`` when it parks one and reads
``deadline`` when its timer checks deadlines; the connection tells the pool when it is free
again (``release``), when it is gone (``remove``) and when a stale pooled connection needs
the request resent on a fresh one (``exchange_acquired``). Neither touches the other's
private fields.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol, cast

import httptools

from proxy.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from proxy.upstream.base import UpstreamResponse

__all__ = [
    "BYTES_BODIES",
    "Connection",
    "ConnectionOwner",
    "ConnectionState",
    "PoolResponse",
    "StaleConnection",
]

_CHUNKED_END = b"0\r\n\r\n"
# A body of these types is sent with a Content-Length (and may be sent again); any other
# body is an async iterator, sent chunked.
BYTES_BODIES = (bytes, bytearray, memoryview)
# A head and a body up to this size go out in one transport.write (one send() syscall);
# past it, concatenating copies more than the extra syscall costs.
_COALESCE_LIMIT = 64 * 1024
# Streamed response bodies: stop reading the socket past HIGH queued bytes, resume at LOW,
# so a slow client holds at most ~256 KiB per connection in the gateway (TCP does the rest).
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class ConnectionState(enum.Enum):
    """Where a connection is in its life (httpcore's ``HTTPConnectionState``)."""

    NEW = enum.auto()  # connecting: not yet in the pool
    IDLE = enum.auto()  # in the pool's idle list, waiting to be handed out
    ACTIVE = enum.auto()  # handed out: an exchange is under way (or about to start)
    CLOSED = enum.auto()  # closing or closed (or disowned by the pool): never handed out again


# Module globals compared with ``is``: one LOAD_GLOBAL each where ``ConnectionState.ACTIVE``
# would add an attribute lookup on the enum class, on checks that run for every response.
NEW, IDLE, ACTIVE, CLOSED = (
    ConnectionState.NEW,
    ConnectionState.IDLE,
    ConnectionState.ACTIVE,
    ConnectionState.CLOSED,
)


class _ResponseParser(Protocol):
    """What a connection uses of ``httptools.HttpResponseParser`` (httptools has no types)."""

    def feed_data(self, data: bytes) -> None: ...
    def get_status_code(self) -> int: ...
    def should_keep_alive(self) -> bool: ...


class ConnectionOwner(Protocol):
    """What a ``Connection`` needs of its pool (``proxy.upstream.pool``)."""

    @property
    def deadline_tick(self) -> asyncio.TimerHandle | None:
        """The pending deadline check; None when no check is scheduled."""

    def watch_deadlines(self) -> None:
        """Schedule the deadline check (the owner checks every connection's ``deadline``)."""

    def release(self, conn: Connection) -> None:
        """``conn`` finished its exchange cleanly and is ``IDLE``: reuse it or close it."""

    def remove(self, conn: Connection, was: ConnectionState) -> None:
        """``conn`` is gone (it was in state ``was``); its slot is free."""

    def exchange_acquired(
        self,
        head: bytes,
        body: bytes | AsyncIterator[bytes] | None,
        head_only: bool,
        deadline: float,
        stream_timeout: float,
        fresh: bool,
        retry: bool,
    ) -> Awaitable[PoolResponse]:
        """The exchange on another connection (``fresh``: a new one)."""


class StaleConnection(UpstreamConnectError):
    """A reused keep-alive connection died before any response byte: safe to resend once."""


class _ExtraMessage(Exception):
    """The backend sent bytes after a complete response (nothing was requested)."""


class Connection(asyncio.Protocol):
    """One connection; also the httptools callback target for the response it is reading.

    Public to the pool: ``state`` (the pool moves it from ``IDLE`` to ``ACTIVE`` when it hands
    the connection out; every other move is the connection's), ``idle_since`` (the loop time
    the pool parked it), ``deadline`` (the loop time the current wait must end by, 0.0 when
    not waiting, for the pool's deadline check) and ``lost`` (done when the transport is
    gone).
    """

    __slots__ = (
        "_body",
        "_buffer_limit",
        "_buffer_whole",
        "_chunked",
        "_complete",
        "_drain",
        "_error",
        "_got_bytes",
        "_head_only",
        "_headers",
        "_headers_done",
        "_informational",
        "_keep_alive",
        "_length",
        "_loop",
        "_owner",
        "_parser",
        "_parser_at_start",
        "_paused_reading",
        "_paused_writing",
        "_queued",
        "_reason",
        "_reused",
        "_status",
        "_stream_timeout",
        "_streaming",
        "_transport",
        "_waiter",
        "deadline",
        "idle_since",
        "lost",
        "state",
    )

    def __init__(
        self, owner: ConnectionOwner, loop: asyncio.AbstractEventLoop, buffer_limit: int
    ) -> None:
        self._owner: ConnectionOwner | None = owner  # None: detached, owns no pool slot
        self._loop = loop
        self._buffer_limit = buffer_limit
        self._transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = loop.create_future()
        self.state = NEW
        self._reused = False
        self.idle_since = 0.0
        self._paused_writing = False
        self._paused_reading = False
        self._drain: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._stream_timeout = 0.0
        self.deadline = 0.0
        self._body: deque[bytes] = deque()
        self._parser_at_start = False
        self._reset(False)

    def _reset(self, head_only: bool) -> None:
        if not self._parser_at_start:
            self._parser: _ResponseParser = httptools.HttpResponseParser(self)  # 0.39 us, timeit
        self._parser_at_start = False
        self._head_only = head_only
        self._status = 0
        self._reason = b""
        self._headers: list[tuple[str, str]] = []
        self._body.clear()
        self._queued = 0
        self._length = -1
        self._chunked = False
        self._informational = False
        self._headers_done = False
        self._buffer_whole = False
        self._complete = False
        self._keep_alive = False
        self._got_bytes = False
        self._streaming = False
        self._error: UpstreamError | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.state is not ACTIVE or self._complete:
            # Unsolicited bytes (e.g. a 408 on an idle connection, or more after a HEAD
            # response): the connection's framing can no longer be trusted.
            self._keep_alive = False
            if self.state is IDLE:
                self.close()
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("the backend switched protocols (101)"))
            return
        except httptools.HttpParserError as exc:
            if self._complete:  # the bytes after a complete response were the problem
                self._keep_alive = False
            else:
                self._fail(UpstreamProtocolError(f"malformed response from the backend: {exc}"))
                return
        self._wake()

    def eof_received(self) -> bool | None:
        self._on_eof()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_eof()
        self._transport = None
        state = self.state
        self.state = CLOSED  # neither idle nor busy: never handed out again
        if state is ACTIVE and not self._complete and self._error is None:
            if not self._got_bytes:
                if self._reused:
                    err: UpstreamError = StaleConnection(
                        "the backend closed a pooled keep-alive connection before responding"
                    )
                else:
                    err = UpstreamConnectError(
                        "the backend closed the connection before responding"
                        + (f": {exc}" if exc else "")
                    )
            elif not self._headers_done:
                err = UpstreamProtocolError("the backend closed the connection mid-headers")
            else:
                err = UpstreamProtocolError(
                    "the backend closed the connection before the body was complete"
                )
            self._fail(err)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(self._error or UpstreamConnectError("connection lost"))
        owner = self._owner
        if owner is not None:
            self._owner = None
            owner.remove(self, state)
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            raise _ExtraMessage
        if self._informational:  # the final response after a 1xx
            self._informational = False
            self._reason = b""
            self._headers = []
            self._length = -1
            self._chunked = False

    def on_status(self, status: bytes) -> None:
        self._reason += status  # usually one call; split only across packets

    def on_header(self, name: bytes, value: bytes) -> None:
        # Length checks first: the lower() + compare runs for 1-2 headers, not all of them.
        n = len(name)
        if n == 14 and name.lower() == b"content-length":
            self._length = int(value)
        elif n == 17 and name.lower() == b"transfer-encoding":
            self._chunked = True
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue / 103 Early Hints: wait for the real one
            self._informational = True
            return
        self._status = status
        self._headers_done = True
        # False for Connection: close, HTTP/1.0 without keep-alive and close-delimited bodies.
        self._keep_alive = parser.should_keep_alive()
        self._buffer_whole = 0 <= self._length <= self._buffer_limit
        if self._head_only:
            self._complete = True

    def on_body(self, data: bytes) -> None:
        if self._complete:  # body bytes after a HEAD response's headers
            self._keep_alive = False
            return
        self._body.append(data)
        self._queued += len(data)
        if self._queued > _HIGH_WATER and not self._buffer_whole and not self._paused_reading:
            transport = self._transport
            if transport is not None:
                transport.pause_reading()
                self._paused_reading = True

    def on_message_complete(self) -> None:
        if self._informational:
            return
        self._complete = True
        # llhttp has finished the message: the parser is at the start of the next one and
        # serves the next exchange (a new parser and its callback lookups cost ~1.3% of a
        # proxied GET's instructions, callgrind). After a HEAD or a close-delimited body it
        # never gets here, so those exchanges' parsers are not reused.
        self._parser_at_start = True

    # -- the exchange ----------------------------------------------------------------------

    def _on_eof(self) -> None:
        # A body without Content-Length or chunking ends at EOF (and the connection with it).
        if (
            self.state is ACTIVE
            and self._headers_done
            and not self._complete
            and self._length < 0
            and not self._chunked
            and self._error is None
        ):
            self._complete = True
            self._keep_alive = False
            self._wake()
        elif self.state is IDLE:
            self.state = CLOSED  # not handed out between EOF and connection_lost

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._complete or (
            self._body if self._streaming else self._headers_done and not self._buffer_whole
        ):
            waiter.set_result(None)

    def _fail(self, err: UpstreamError) -> None:
        if self._error is None:
            self._error = err
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(err)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(err)
        self.abort()

    def time_out(self) -> None:
        """The pool's deadline check found ``deadline`` passed: fail the wait, drop the
        connection."""
        self.deadline = 0.0
        if self._streaming:
            message = f"the backend sent no body bytes for {self._stream_timeout:g} s"
        else:
            message = "the backend did not respond within the timeout"
        self._fail(UpstreamTimeout(message))

    def abort(self) -> None:
        self._keep_alive = False
        transport = self._transport
        if transport is not None:
            transport.abort()

    def close(self) -> None:
        self._keep_alive = False
        transport = self._transport
        if transport is not None:
            transport.close()

    def detach(self) -> None:
        """The pool disowns this connection (before closing it): it will not be handed out
        again, and its loss will not free a slot the pool has given to someone else."""
        self._owner = None
        self.state = CLOSED

    async def exchange(
        self,
        head: bytes,
        body: bytes | AsyncIterator[bytes] | None,
        head_only: bool,
        deadline: float,
        stream_timeout: float,
        retry: bool = False,
    ) -> PoolResponse:
        """One request and its response on this connection. ``retry``: the request may go
        once more, on a new connection, when this pooled one turns out stale (the caller's
        coroutine would otherwise be one more frame every await passes through)."""
        owner = self._owner
        try:
            transport = self._transport
            if transport is None or transport.is_closing():
                raise StaleConnection("the pooled connection was closed")
            self._reset(head_only)
            self.state = ACTIVE
            self._stream_timeout = stream_timeout
            loop = self._loop
            self.deadline = deadline  # watched by the owner's deadline check
            if owner is not None and owner.deadline_tick is None:
                owner.watch_deadlines()
            if body is None or isinstance(body, BYTES_BODIES):
                if body and len(body) > _COALESCE_LIMIT:
                    transport.write(head)
                    transport.write(body)
                elif body:
                    transport.write(head + body)
                else:
                    transport.write(head)
            else:
                transport.write(head)
                await self._pump(body, deadline)
            if not (self._complete or (self._headers_done and not self._buffer_whole)):
                if self._error is not None:
                    raise self._error
                waiter = self._waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    self._waiter = None
        except StaleConnection:
            self.abort()
            if not retry or owner is None:
                raise
            stale = True
        except BaseException:
            self.abort()  # timeout, error or cancellation: the exchange state is unknown
            raise
        else:
            stale = False
        finally:
            self.deadline = 0.0
        if stale:
            # The backend closed an idle keep-alive connection before (or as) we sent on it;
            # nothing was processed, so the request goes once more on a new connection. A
            # second failure there is a plain UpstreamConnectError.
            assert owner is not None
            return await owner.exchange_acquired(head, body, head_only, deadline, stream_timeout,
                                                 True, False)
        body_bytes: bytes | None = None
        if self._complete:
            chunks = self._body
            body_bytes = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._queued = 0
        else:
            self._streaming = True
            # After the headers the deadline no longer applies: a streamed body may take
            # longer than the timeout in total (a 1 GB download), so each wait for the next
            # chunk is bounded by an idle timeout of the same length instead.
        return PoolResponse(
            self, self._status, self._reason.decode("latin-1"), self._headers, body_bytes
        )

    async def _pump(self, body: AsyncIterator[bytes], deadline: float) -> None:
        # The caller's iterator may stall too, so the whole upload sits under the deadline.
        try:
            async with asyncio.timeout_at(deadline):
                async for chunk in body:
                    if self._error is not None:
                        raise self._error
                    if self._complete or self._transport is None:
                        break  # the backend answered (or left) before reading all of it
                    if chunk:
                        self._transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    if self._paused_writing:
                        drain = self._drain = self._loop.create_future()
                        try:
                            await drain
                        finally:
                            self._drain = None
                else:
                    if self._transport is not None and not self._complete:
                        self._transport.write(_CHUNKED_END)
                        return
                # An early response: the backend did not read our whole body.
                self._keep_alive = False
        except TimeoutError:
            raise UpstreamTimeout("the request body was not sent within the timeout") from None

    async def read_chunk(self) -> bytes:
        """The next streamed body chunk; b"" at the end."""
        while True:
            chunks = self._body
            if chunks:
                chunk = chunks.popleft()
                self._queued -= len(chunk)
                if self._paused_reading and self._queued <= _LOW_WATER:
                    self._paused_reading = False
                    if self._transport is not None:
                        self._transport.resume_reading()
                return chunk
            if self._complete:
                return b""
            if self._error is not None:
                raise self._error
            waiter = self._waiter = self._loop.create_future()
            self.deadline = self._loop.time() + self._stream_timeout
            owner = self._owner
            if owner is not None and owner.deadline_tick is None:
                owner.watch_deadlines()
            try:
                await waiter
            except BaseException:
                self.abort()
                raise
            finally:
                self.deadline = 0.0
                self._waiter = None

    def finish(self) -> None:
        """The caller is done with the response: pool the connection or close it."""
        owner = self._owner
        if (
            self._complete
            and self._keep_alive
            and self._error is None
            and owner is not None
            and self.state is ACTIVE
        ):
            self.state = IDLE
            self._reused = True
            if self._paused_reading:  # the body completed in the read that crossed HIGH
                self._paused_reading = False
                if self._transport is not None:
                    self._transport.resume_reading()
            owner.release(self)
        elif self._complete:
            self.close()
        else:
            self.abort()  # an unread or broken body: the framing is lost


class PoolResponse(UpstreamResponse):
    __slots__ = ("_conn", "body", "headers", "reason", "status")

    def __init__(
        self,
        conn: Connection,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
    ) -> None:
        self._conn: Connection | None = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    async def stream(self) -> AsyncIterator[bytes]:
        if self.body is not None:
            if self.body:
                yield self.body
            return
        conn = self._conn
        if conn is None:
            raise RuntimeError("stream() called after release()")
        while chunk := await conn.read_chunk():
            yield chunk

    def release(self) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            conn.finish()

