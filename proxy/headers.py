"""Header sets for HTTP_PROXY, computed once (lower-case names, frozensets: one hash lookup)."""

from __future__ import annotations

import base64
import os
import time
import uuid

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


def request_id(client_value: str | None) -> str:
    """x-amzn-RequestId: a client's valid UUID is kept (DG set-up-logging), else a new one."""
    if client_value is not None and len(client_value) == 36:
        try:
            return str(uuid.UUID(client_value))
        except ValueError:
            pass
    return str(uuid.uuid4())


def extended_request_id() -> str:
    """x-amz-apigw-id: 16 base64 characters ending in '=' like AWS's (11 random bytes)."""
    return base64.b64encode(os.urandom(11)).decode()


def trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"
