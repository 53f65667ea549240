"""Header sets for the HTTP integrations, computed once (lower-case names, frozensets: one hash
lookup).

The client headers AWS drops before any backend, the headers a parameter mapping may not set,
and the method response headers AWS renames, are AWS's as recorded in LocalStack's AWS-validated
``TestApiGatewayHeaderRemapping`` (test_apigateway_integrations.snapshot.json, 2024-12): a
request carrying every header below reached an HTTP_PROXY backend without them, and a mapping
of ``Content-Length`` or ``Transfer-Encoding`` made every call answer 500.
"""

from __future__ import annotations

import os
import re
import uuid
from binascii import b2a_base64
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from aiohttp import hdrs

if TYPE_CHECKING:
    from aiohttp.web import BaseRequest

# RFC 9110 7.6.1 hop-by-hop headers, plus the framing headers the upstream client writes itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})

# Client headers not passed to the backend: hop-by-hop, Host (the backend's own is sent),
# Content-Length (the transport frames the body), Expect (the gateway already has the body),
# the X-Forwarded-* that the gateway sets itself, and what AWS drops besides (recorded):
# Content-MD5, Max-Forwards, Server, Via, WWW-Authenticate, and Content-Encoding (the body is
# sent decoded: AWS always decompresses a request body).
REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "expect", "x-forwarded-for",
                             "x-forwarded-port", "x-forwarded-proto", "content-md5",
                             "max-forwards", "server", "via", "www-authenticate",
                             "content-encoding"}

# Headers a parameter mapping or a request override may not set: the method answers 500
# ("Execution failed due to configuration error: ... header already present"). Content-Length
# and Transfer-Encoding are recorded; the trace and API id headers and the AWS-type additions
# are LocalStack's list (ILLEGAL_INTEGRATION_REQUESTS_*).
RESERVED_MAPPED = frozenset({"content-length", "transfer-encoding", "x-amzn-trace-id",
                             "x-amzn-apigateway-api-id"})
RESERVED_MAPPED_AWS = RESERVED_MAPPED | {"authorization", "connection", "expect",
                                         "proxy-authenticate", "te"}
# Mapped headers a non-proxy integration request drops without error (recorded for HTTP:
# Connection, Expect, Proxy-Authenticate, TE and Via never reached the backend).
MAPPED_DROP = frozenset({"connection", "expect", "proxy-authenticate", "te", "via"})
MAPPED_DROP_AWS = MAPPED_DROP | {"referer"}

# Method response headers of a non-proxy integration (HTTP, AWS) renamed x-amzn-Remapped-*
# (recorded); MOCK renames the four AWS renames for every type (LocalStack's COMMON list).
# Transfer-Encoding is dropped.
_NON_PROXY_REMAP_NAMES = ("Authorization", "Connection", "Content-Length", "Content-MD5", "Date",
                          "Expect", "Host", "Max-Forwards", "Proxy-Authenticate", "Server",
                          "Trailer", "Upgrade", "User-Agent", "WWW-Authenticate")
NON_PROXY_REMAP: Mapping[str, str] = {
    n.lower(): f"x-amzn-Remapped-{n}" for n in _NON_PROXY_REMAP_NAMES}
MOCK_REMAP: Mapping[str, str] = {
    n.lower(): f"x-amzn-Remapped-{n}" for n in ("Connection", "Content-Length", "Date", "Server")}
METHOD_RESPONSE_DROP = frozenset({"transfer-encoding"})


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def header_safe(name: str, value: str) -> bool:
    """Whether a header built by a mapping or a template can go on the wire as it is: a token
    for a name, a value without CR, LF or other controls, both in Latin-1. A value mapped from
    a query string or a body (``%0D%0A``) must not start a second header."""
    return _TOKEN.fullmatch(name) is not None and _FIELD_VALUE.fullmatch(value) is not None


def reserved_header_mapping(request_parameters: Mapping[str, str],
                            reserved: frozenset[str] = RESERVED_MAPPED) -> bool:
    """Whether a method's ``requestParameters`` set (``header`` or ``multivalueheader``) a
    header of ``reserved`` (``RESERVED_MAPPED``, or ``RESERVED_MAPPED_AWS`` for an AWS
    integration): AWS accepts the method and answers every call 500."""
    for target in request_parameters:
        location, _, name = target.removeprefix("integration.request.").partition(".")
        if location in ("header", "multivalueheader") and name.lower() in reserved:
            return True
    return False

# Backend response headers returned as x-amzn-Remapped-{Name} (spec 5.3 and issue 2).
RESPONSE_REMAP = frozenset({"connection", "content-length", "date", "server", "x-amzn-requestid"})
# Backend response headers dropped: framing and hop-by-hop (the gateway frames the response),
# and the two ids the gateway sets on every response itself.
RESPONSE_DROP = (HOP_BY_HOP - {"connection"}) | {"x-amz-apigw-id", "x-amzn-trace-id"}


# Set by the gateway on every response, so an integration's header of the same name is dropped
# (proxy.respond; a non-proxy method response drops them in its own pass).
GATEWAY_OWN = frozenset({"x-amzn-requestid", "x-amz-apigw-id", "x-amzn-trace-id",
                         "content-length", "date", "connection", "transfer-encoding"})

# Remapped names, computed once: "content-length" -> "x-amzn-Remapped-Content-Length".
_REMAPPED = {
    "connection": "x-amzn-Remapped-Connection",
    "content-length": "x-amzn-Remapped-Content-Length",
    "date": "x-amzn-Remapped-Date",
    "server": "x-amzn-Remapped-Server",
    "x-amzn-requestid": "x-amzn-Remapped-x-amzn-RequestId",
}
assert set(_REMAPPED) == RESPONSE_REMAP


def forwardable(raw_headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """The client's end-to-end headers for the backend, case and order kept: without the
    hop-by-hop ones, including those the client names in ``Connection`` (RFC 9110 7.6.1)."""
    out = []
    named: list[str] | None = None
    for k, v in raw_headers:
        name = k.decode("latin-1")
        lname = name.lower()
        if lname not in REQUEST_DROP:
            out.append((name, v.decode("latin-1")))
        elif lname == "connection":
            tokens = [t.strip().lower() for t in v.decode("latin-1").split(",")]
            extra = [t for t in tokens if t and t not in _CONNECTION_OPTIONS]
            if extra:
                named = extra if named is None else named + extra
    if named is not None:  # rare: "Connection: keep-alive" alone names nothing to drop
        drop = frozenset(named)
        out = [(name, value) for name, value in out if name.lower() not in drop]
    return out


def forwarded(request: BaseRequest, source_ip: str | None
              ) -> tuple[tuple[str, str], tuple[str, str], tuple[str, str]]:
    """``X-Forwarded-For``, ``-Port`` and ``-Proto`` as the gateway sends them to any backend
    or function: the client's address appended to any ``X-Forwarded-For`` it sent, the port
    it connected to, and its scheme."""
    forwarded_for = request.headers.get(hdrs.X_FORWARDED_FOR)  # an istr: no lower-casing
    ip = source_ip or ""
    return (("X-Forwarded-For", f"{forwarded_for}, {ip}" if forwarded_for else ip),
            ("X-Forwarded-Port", _port(request)),
            ("X-Forwarded-Proto", request.scheme))


def _port(request: BaseRequest) -> str:
    # aiohttp caches the sockname per connection; asking the transport is a getsockname()
    # syscall per request (1.6% of the proxy profile)
    sockname = request.protocol.sockname
    if sockname:
        return str(sockname[1])
    return "443" if request.scheme == "https" else "80"


# Connection options that are not header names (already dropped or never headers).
_CONNECTION_OPTIONS = frozenset({"keep-alive", "close", "upgrade", "te"})


def remap_response(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The backend's headers as the client gets them: framing and the gateway's own ids
    dropped, the five AWS remaps renamed to x-amzn-Remapped-*, and ``Content-Type:
    application/json`` added when the backend sent none ("API Gateway includes a Content-Type
    header for all integration responses", DG). One pass: the handler adds only its ids."""
    out = []
    has_type = False
    for name, value in headers:
        lname = name.lower()
        remapped = _REMAPPED.get(lname)
        if remapped is not None:
            out.append((remapped, value))
        elif lname not in RESPONSE_DROP:
            if lname == "content-type":
                has_type = True
            out.append((name, value))
    if not has_type:
        out.append(("Content-Type", "application/json"))
    return out


# RFC 4122 variant bits (10xx) for the first hex digit of the fourth group
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}

# Ids are cut from os.urandom output already formatted, a hex string and a base64 string each
# made from 48 KiB at a time: os.urandom is a getrandom() syscall (~0.5 us on the bench VM) and
# every response takes three ids (6.7% of the proxy profile when each made its own); formatting
# the whole buffer at once took request_ids from 2.9 to 1.9 us (timeit). The buffers are the
# same CSPRNG output, so ids stay unpredictable.
_ID_BUFFER_BYTES = 3 << 14
_hex = ""
_hex_pos = 0
_b64 = ""
_b64_pos = 0
# The 15th character of an 11-byte value in base64 holds its last 4 bits and two zero bits.
_B64_LAST = dict(zip("0123456789abcdef", "AEIMQUYcgkosw048", strict=True))


def _forget_entropy() -> None:
    # a forked worker must not hand out its parent's bytes: every worker would repeat its ids
    global _hex, _hex_pos, _b64, _b64_pos
    _hex, _hex_pos, _b64, _b64_pos = "", 0, "", 0


os.register_at_fork(after_in_child=_forget_entropy)


def _kept_request_id(client_value: str | None) -> str | None:
    """A client's x-amzn-RequestId when it is a valid UUID: kept (DG set-up-logging)."""
    if client_value is not None and len(client_value) == 36:
        try:
            return str(uuid.UUID(client_value))
        except ValueError:
            return None
    return None


def request_ids(client_value: str | None, epoch_s: int) -> tuple[str, str, str]:
    """``(x-amzn-RequestId, x-amz-apigw-id, X-Amzn-Trace-Id)`` for one request.

    The request id is a version-4 UUID (a client's valid UUID is kept, DG set-up-logging); the
    apigw id is 16 base64 characters ending in "=" like AWS's (11 random bytes); the trace id
    is X-Ray's ``Root=1-{epoch seconds, hex}-{96 random bits}``."""
    global _hex, _hex_pos, _b64, _b64_pos
    pos = _hex_pos
    end = pos + 57  # 32 hex digits for the UUID, 24 for the trace, 1 for the apigw id's last
    if end > len(_hex):
        _hex, pos, end = os.urandom(_ID_BUFFER_BYTES).hex(), 0, 57
    _hex_pos = end
    h = _hex[pos:end]
    pos = _b64_pos
    end = pos + 14
    if end > len(_b64):
        _b64 = b2a_base64(os.urandom(_ID_BUFFER_BYTES), newline=False).decode()
        pos, end = 0, 14
    _b64_pos = end
    rid = None if client_value is None else _kept_request_id(client_value)
    if rid is None:
        rid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"
    return (rid, f"{_b64[pos:end]}{_B64_LAST[h[56]]}=", f"Root=1-{epoch_s:08x}-{h[32:56]}")
