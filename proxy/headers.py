"""Header sets for HTTP_PROXY, computed once (lower-case names, frozensets: one hash lookup)."""

from __future__ import annotations

import os
import time
import uuid
from binascii import b2a_base64
from collections.abc import Iterable

# RFC 9110 7.6.1 hop-by-hop headers, plus the framing headers the upstream client writes itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})

# Client headers not passed to the backend: hop-by-hop, Host (the backend's own is sent),
# Content-Length (the transport frames the body), Expect (the gateway already has the body),
# and the X-Forwarded-* that the gateway sets itself.
REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "expect", "x-forwarded-for",
                             "x-forwarded-port", "x-forwarded-proto"}

# Backend response headers returned as x-amzn-Remapped-{Name} (spec 5.3 and issue 2).
RESPONSE_REMAP = frozenset({"connection", "content-length", "date", "server", "x-amzn-requestid"})
# Backend response headers dropped: framing and hop-by-hop (the gateway frames the response).
RESPONSE_DROP = HOP_BY_HOP - {"connection"}


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
    """The client's end-to-end headers for the backend, case and order kept."""
    out = []
    for k, v in raw_headers:
        name = k.decode("latin-1")
        if name.lower() not in REQUEST_DROP:
            out.append((name, v.decode("latin-1")))
    return out


def remap_response(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The backend's headers as the client gets them: framing dropped, the five AWS remaps
    renamed to x-amzn-Remapped-*."""
    out = []
    for name, value in headers:
        lname = name.lower()
        if lname in RESPONSE_REMAP:
            out.append((_REMAPPED[lname], value))
        elif lname not in RESPONSE_DROP:
            out.append((name, value))
    return out


# RFC 4122 variant bits (10xx) for the first hex digit of the fourth group
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}

# Random bytes are cut from one os.urandom buffer: os.urandom is a getrandom() syscall, ~0.5 us
# on the bench VM, and every response took three (request id, apigw id, trace id), 6.7% of the
# proxy profile. The buffer is the same CSPRNG output, so ids stay unpredictable.
_ENTROPY_BYTES = 1 << 16
_entropy = b""
_entropy_pos = 0


def _forget_entropy() -> None:
    # a forked worker must not hand out its parent's bytes: every worker would repeat its ids
    global _entropy, _entropy_pos
    _entropy, _entropy_pos = b"", 0


os.register_at_fork(after_in_child=_forget_entropy)


def random_bytes(n: int) -> bytes:
    """``n`` bytes of os.urandom output, from a buffer refilled every 64 KiB."""
    global _entropy, _entropy_pos
    pos = _entropy_pos
    end = pos + n
    if end > len(_entropy):
        _entropy, pos, end = os.urandom(_ENTROPY_BYTES), 0, n
    _entropy_pos = end
    return _entropy[pos:end]


def request_id(client_value: str | None) -> str:
    """x-amzn-RequestId: a client's valid UUID is kept (DG set-up-logging), else a new one."""
    if client_value is not None and len(client_value) == 36:
        try:
            return str(uuid.UUID(client_value))
        except ValueError:
            pass
    # A version-4 UUID formatted straight from 16 random bytes: str(uuid.uuid4()) costs
    # ~2.5 us, this ~0.3 us (bench/micro/test_headers_bench.py).
    h = random_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def extended_request_id() -> str:
    """x-amz-apigw-id: 16 base64 characters ending in '=' like AWS's (11 random bytes)."""
    return b2a_base64(random_bytes(11), newline=False).decode()


def trace_id(epoch_s: int | None = None) -> str:
    """X-Amzn-Trace-Id ``Root=1-{epoch seconds, hex}-{96 random bits}`` (X-Ray's format)."""
    if epoch_s is None:
        epoch_s = int(time.time())
    return f"Root=1-{epoch_s:08x}-{random_bytes(12).hex()}"
