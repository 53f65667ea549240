"""The Lambda Runtime API (2018-06-01) that Sluice serves to one instance on its own socket.

Each instance gets a listening socket on 127.0.0.1 of its own (``AWS_LAMBDA_RUNTIME_API``), and
every connection to it is bound to that instance, so the server knows who asks without reading
anything from the request: an instance can read only its own next event and answer only its own
request id (another id is ``400 InvalidRequestID``, as Lambda's RAPID answers).

A lean ``asyncio.Protocol`` with httptools: aiohttp's request handling halved the throughput of
this loopback hop in the prototype (2,000-3,000 against 4,200-4,600 invocations/s, awslambdaric
client, 64 callers). The parser is given no ``on_header``: httptools then builds no header at all
(through ``on_header`` they were 13.7k of the 37.5k instructions an invocation's two requests,
``/response`` and ``/next``, cost to parse; callgrind). The two headers that matter are read from
the request's head bytes only when they do: ``Expect: 100-continue`` when a POST's body has not
come with its head (curl asks before a large body; one that came with its head needs no 100,
RFC 9110 10.1.1), ``Lambda-Runtime-Function-Error-Type`` on an ``/error`` or ``/init/error``.
Routes:

    GET  /2018-06-01/runtime/invocation/next             the next event (long poll)
    POST /2018-06-01/runtime/invocation/{id}/response    202 {"status":"OK"}
    POST /2018-06-01/runtime/invocation/{id}/error       202, Lambda-Runtime-Function-Error-Type
    POST /2018-06-01/runtime/init/error                  202, then the runtime exits
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol, cast

import httptools
import orjson

__all__ = ["RuntimeApiConnection", "RuntimeApiOwner", "event_head", "status_response"]

_PREFIX = b"/2018-06-01/runtime/"
_INVOCATION = _PREFIX + b"invocation/"
_NEXT = _INVOCATION + b"next"
_INIT_ERROR = _PREFIX + b"init/error"
# header lines of a request's head (field names are case-insensitive, the value is trimmed)
_ERROR_TYPE = re.compile(rb"^lambda-runtime-function-error-type:[ \t]*(.*?)[ \t]*\r?$",
                         re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"^expect:[ \t]*100-continue[ \t]*\r?$",
                              re.IGNORECASE | re.MULTILINE)

# Lambda caps a synchronous response at 6 MB (6,291,556 bytes); a longer one is refused.
MAX_RESPONSE_BYTES = 6_291_556

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            413: "Request Entity Too Large"}


def status_response(status: int, body: object) -> bytes:
    """A whole response with a JSON body, built once per distinct answer."""
    data = orjson.dumps(body)
    return (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


ACCEPTED = status_response(202, {"status": "OK"})
INVALID_REQUEST_ID = status_response(
    400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
TOO_LARGE = status_response(413, {
    "errorMessage": f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
    "errorType": "RequestEntityTooLarge"})
# what the caller gets instead of a response over the cap (Lambda's wording)
RESPONSE_TOO_LARGE = orjson.dumps({
    "errorMessage": "Response payload size exceeded maximum allowed payload size "
                    f"({MAX_RESPONSE_BYTES} bytes).",
    "errorType": "Function.ResponseSizeTooLarge"})
NOT_FOUND = status_response(404, {"errorMessage": "Not found", "errorType": "NotFound"})
_BAD_REQUEST = status_response(
    400, {"errorMessage": "Malformed HTTP request", "errorType": "InvalidRequest"})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def invalid_state(what: str) -> bytes:
    return status_response(403, {"errorMessage": f"State transition failed: {what}",
                                 "errorType": "InvalidStateTransition"})


def event_head(request_id: str, deadline_ms: int, function_arn: str, trace_id: str,
               client_context: str | None, cognito_identity: str | None, length: int) -> bytes:
    """The head of a ``/invocation/next`` answer (the event follows as the body)."""
    extra = ""
    if client_context:
        extra += f"Lambda-Runtime-Client-Context: {client_context}\r\n"
    if cognito_identity:
        extra += f"Lambda-Runtime-Cognito-Identity: {cognito_identity}\r\n"
    if trace_id:
        extra += f"Lambda-Runtime-Trace-Id: {trace_id}\r\n"
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {function_arn}\r\n{extra}"
            f"Content-Length: {length}\r\n\r\n").encode()


class RuntimeApiOwner(Protocol):
    """The instance a connection belongs to."""

    def next(self, conn: RuntimeApiConnection) -> None: ...
    def respond(self, request_id: str, body: bytes) -> bytes: ...
    def fail(self, request_id: str, body: bytes, error_type: str | None) -> bytes: ...
    def init_error(self, body: bytes, error_type: str | None) -> bytes: ...
    def lost(self, conn: RuntimeApiConnection) -> None: ...


def head_end(data: bytes, start: int = 0) -> int:
    """Where the head that starts at ``start`` ends: the end of its last line, before the
    blank one (CRLF or bare LF)."""
    ends = [at for at in (data.find(b"\r\n\r\n", start), data.find(b"\n\n", start)) if at >= 0]
    return min(ends) if ends else len(data)


def error_type(head: bytes, start: int = 0, end: int | None = None) -> str | None:
    """``Lambda-Runtime-Function-Error-Type`` in ``head[start:end]``; the last one wins."""
    found = None
    for match in _ERROR_TYPE.finditer(head, start, len(head) if end is None else end):
        found = match.group(1).decode("latin-1")
    return found


def expects_continue(head: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``head[start:end]`` carries ``Expect: 100-continue``."""
    stop = len(head) if end is None else end
    # "100-" is the same in any case: most heads are passed over without the pattern
    return head.find(b"100-", start, stop) >= 0 and \
        _EXPECT_CONTINUE.search(head, start, stop) is not None


class RuntimeApiConnection(asyncio.Protocol):
    __slots__ = ("_awaiting_body", "_body", "_chunk", "_ended", "_head_parts", "_in_head",
                 "_owner", "_parser", "_pipelined", "_size", "_url", "transport")

    def __init__(self, owner: RuntimeApiOwner) -> None:
        self._owner = owner
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []
        self._size = 0
        self._chunk = b""  # the bytes being fed: a message that begins, begins in them
        self._ended = False  # a message ended in them: one that begins after it is pipelined
        self._pipelined = False
        # the reads the message's head is in (with what came around it), and whether the head
        # is still being read
        self._head_parts: list[bytes] = []
        self._in_head = False
        self._awaiting_body = False  # a POST's head is read, its body has not begun

    # --- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._in_head:  # a head that began in an earlier read goes on
            self._head_parts.append(data)
        self._chunk = data
        self._ended = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.write(_BAD_REQUEST)
            self.close()
            return
        if self._awaiting_body:  # the head came alone: a client that asks waits for the 100
            self._awaiting_body = False
            if expects_continue(*self._head()):
                self.write(_CONTINUE)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._owner.lost(self)

    # --- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []
        self._size = 0
        self._head_parts = [self._chunk]
        self._in_head = True
        self._pipelined = self._ended

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._awaiting_body = self._parser.get_method() != b"GET"

    def _head(self) -> tuple[bytes, int, int]:
        """The head's bytes, and where in them it starts and ends."""
        parts = self._head_parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        start = 0
        if self._pipelined:  # behind another request in the same read (no runtime does that:
            # /next blocks until an event); found by its request line
            start = max(0, data.rfind(self._parser.get_method() + b" " + self._url + b" "))
        return data, start, head_end(data, start)

    def on_body(self, body: bytes) -> None:
        self._awaiting_body = False
        self._size += len(body)
        if self._size <= MAX_RESPONSE_BYTES:
            self._body.append(body)
        else:
            self._body = []  # answered 413 at the end; nothing of it is kept

    def on_message_complete(self) -> None:
        self._ended = True
        self._awaiting_body = False
        owner = self._owner
        url = self._url
        method = self._parser.get_method()
        if method == b"GET" and url == _NEXT:
            owner.next(self)
            return
        body = b"".join(self._body)
        if method != b"POST":
            answer = NOT_FOUND
        elif url.startswith(_INVOCATION):
            request_id, _, action = url[len(_INVOCATION):].partition(b"/")
            rid = request_id.decode("latin-1")
            if self._size > MAX_RESPONSE_BYTES:
                answer = owner.fail(rid, RESPONSE_TOO_LARGE, "Function.ResponseSizeTooLarge")
                answer = TOO_LARGE if answer is ACCEPTED else answer
            elif action == b"response":
                answer = owner.respond(rid, body)
            elif action == b"error":
                answer = owner.fail(rid, body, error_type(*self._head()))
            else:
                answer = NOT_FOUND
        elif url == _INIT_ERROR:
            answer = owner.init_error(body, error_type(*self._head()))
        else:
            answer = NOT_FOUND
        self._head_parts = []
        self.write(answer)
        if not self._parser.should_keep_alive():
            self.close()

    # --- writing ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def send_event(self, head: bytes, payload: bytes) -> bool:
        """Answer the parked ``/next`` with one event; False when the connection is gone."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        transport.writelines((head, payload))
        return True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
