"""Payload encodings: content codings (compression) and binary media types (spec 10.2, 10.4).

Three pure decisions, each with the call that carries it out:

- **Request decompression.** AWS always decompresses a ``Content-Encoding: gzip|deflate``
  request body before templates and validation (DG "Call an API method with a compressed
  payload"). A coding it does not support, or a body that is not in the coding it names, is
  answered 415 ("If the specified coding isn't supported or the supplied payload isn't
  compressed with specified coding, API Gateway returns the 415 Unsupported Media Type error
  response"): ``UndecodableBody``. The decompressed size is bounded by the 10 MB payload limit
  as it is produced, so a decompression bomb costs at most 10 MB and answers 413
  (``RequestTooLarge``; AWS publishes no answer for a bomb, 413 is the payload limit's).
- **Response compression** (``minimumCompressionSize``): gzip, deflate or nothing, from the
  client's ``Accept-Encoding`` as the DG describes it: the client's highest-priority coding
  must be one API Gateway supports, otherwise nothing is compressed; no header, an empty one or
  a bare ``*`` compress nothing; a body the integration already encoded (it has a
  ``Content-Encoding``) is left alone; only a body at or above the threshold is compressed.
  Among codings of equal q the one the client lists first wins (the DG's own examples list
  browsers' ``gzip, deflate, br``). No ``Vary`` is added: the DG's compressed-response example
  shows only ``Content-Encoding``, and no capture shows AWS sending one.
- **Binary media types and contentHandling**: whether a request (by ``Content-Type``) or a
  response (by the *first* ``Accept`` type only) is binary, and the conversion the DG's
  "Content type conversions" tables prescribe for each row, as a ``Conversion``.
  ``convert`` applies one; a text payload that must become binary is base64-decoded, and a
  body that is not base64 is ``ApiConfigurationError`` (500), as the DG says.

Wildcards in ``binaryMediaTypes`` (recorded from AWS in LocalStack's
``test_aws_proxy_binary_response``): ``type/*`` covers every subtype of ``type``; ``*/*``
covers everything (DG: "``*/*`` includes all content types"); any other left-hand wildcard
(``*/png``) matches nothing. A wildcard in the *request's* ``Accept`` is not expanded:
``Accept: image/*`` is not binary for ``binaryMediaTypes: [image/png]``, and matches only a
configured ``image/*`` or ``*/*``. Media types compare case-insensitively, without parameters.
"""

from __future__ import annotations

import binascii
import zlib
from collections.abc import Iterable
from enum import Enum
from functools import lru_cache

from proxy.errors import ApiConfigurationError, GatewayError, RequestTooLarge

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "BinaryMediaTypes",
    "Conversion",
    "UndecodableBody",
    "compress",
    "compressed_headers",
    "convert",
    "decode_request_body",
    "media_type",
    "request_conversion",
    "response_coding",
    "response_conversion",
]

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # spec 10.3: 10485760 bytes

# The codings AWS lists as supported (DG "Content codings supported by API Gateway").
_DECODABLE = frozenset({"gzip", "deflate", "identity"})
_COMPRESSING = frozenset({"gzip", "deflate"})

# zlib level 1, not gzip's default 6: for an 11 KB JSON list of varied records, measured on this
# machine, level 1 takes 187 us to 36% of the size and level 6 280 us to 32% (an 8.5 KB
# repetitive list: 20 us vs 63 us, both 8%). AWS's level is unknown and clients decode either.
_LEVEL = 1


class UndecodableBody(GatewayError):
    """A request body in a coding API Gateway does not support, or not in the coding its
    ``Content-Encoding`` names: 415 UNSUPPORTED_MEDIA_TYPE (DG)."""

    response_type = "UNSUPPORTED_MEDIA_TYPE"


# --- content types -----------------------------------------------------------------------


@lru_cache(maxsize=256)
def media_type(value: str | None) -> str | None:
    """``"Application/JSON; charset=utf-8"`` -> ``"application/json"``; None for no value.

    Cached: a deployment sees few distinct Content-Type values, and the lookup (140 ns,
    measured) is cheaper than the split, strip and lower it saves (305 ns)."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def _first_accept(accept: str | None) -> str | None:
    if not accept:
        return None
    return media_type(accept.split(",", 1)[0])


class BinaryMediaTypes:
    """An API's ``binaryMediaTypes``, compiled once: exact types in a set, ``type/*``
    wildcards as a set of types, ``*/*`` as a flag."""

    __slots__ = ("_any", "_exact", "_families", "configured")

    def __init__(self, types: Iterable[str]) -> None:
        exact: set[str] = set()
        families: set[str] = set()
        self._any = False
        self.configured = False
        for raw in types:
            self.configured = True
            kind, _, sub = (media_type(raw) or "").partition("/")
            if not sub:
                continue
            if kind == "*":
                # Only */* is a wildcard on the left; */png matches nothing (recorded).
                self._any = self._any or sub == "*"
            elif sub == "*":
                families.add(kind)
            else:
                exact.add(f"{kind}/{sub}")
        self._exact = frozenset(exact)
        self._families = frozenset(families)

    def _matches(self, mtype: str | None) -> bool:
        if not mtype or not self.configured:
            return False
        if self._any or mtype in self._exact:
            return True
        kind, slash, _ = mtype.partition("/")
        return bool(slash) and kind in self._families

    def matches_content_type(self, content_type: str | None) -> bool:
        """Whether a payload of this ``Content-Type`` is binary."""
        return self._matches(media_type(content_type))

    def matches_accept(self, accept: str | None) -> bool:
        """Whether the client asks for binary: its first ``Accept`` media type only (DG)."""
        return self._matches(_first_accept(accept))


# --- contentHandling ---------------------------------------------------------------------


class Conversion(Enum):
    """What happens to a payload between the method and the integration, either way."""

    TEXT = "text"  # a UTF-8 string: bytes that are not UTF-8 become U+FFFD, as on AWS
    BINARY = "binary"  # the bytes unchanged
    BASE64_ENCODE = "base64-encode"  # binary -> a base64 string
    BASE64_DECODE = "base64-decode"  # a base64 string -> binary; not base64: 500


def request_conversion(binary: bool, content_handling: str | None) -> Conversion:
    """The integration request payload, by the DG's "API request content type conversions"
    table: ``binary`` is whether the request's Content-Type is in ``binaryMediaTypes``."""
    if binary:
        if content_handling == "CONVERT_TO_TEXT":
            return Conversion.BASE64_ENCODE
        return Conversion.BINARY  # undefined or CONVERT_TO_BINARY: "Binary data"
    if content_handling == "CONVERT_TO_BINARY":
        return Conversion.BASE64_DECODE
    return Conversion.TEXT  # undefined or CONVERT_TO_TEXT: "UTF8-encoded string"


def response_conversion(
    binary_payload: bool, binary_accept: bool, content_handling: str | None
) -> Conversion:
    """The method response payload, by the DG's "API Gateway response content type
    conversions" table. ``binary_payload``: the integration response's Content-Type is in
    ``binaryMediaTypes``; ``binary_accept``: the request's first Accept type is. Without
    ``binaryMediaTypes`` both are false, which is the table's "Undefined" rows."""
    if content_handling == "CONVERT_TO_TEXT":
        # every row: binary data becomes base64, text stays a UTF-8 string
        return Conversion.BASE64_ENCODE if binary_payload else Conversion.TEXT
    if content_handling == "CONVERT_TO_BINARY":
        return Conversion.BINARY if binary_payload else Conversion.BASE64_DECODE
    # contentHandling undefined: passthrough, converted only where the sides disagree
    if binary_payload:
        return Conversion.BINARY if binary_accept else Conversion.BASE64_ENCODE
    return Conversion.BASE64_DECODE if binary_accept else Conversion.TEXT


def convert(body: bytes, conversion: Conversion) -> bytes:
    """Apply a conversion. A body that must be base64-decoded and is not base64 raises
    ``ApiConfigurationError`` (DG: "If the conversion fails, it returns a 500 response")."""
    if conversion is Conversion.BINARY:
        return body
    if conversion is Conversion.TEXT:
        if body.isascii():  # ASCII is UTF-8: 130 ns for 1 KB instead of 450 ns to re-encode
            return body
        return body.decode("utf-8", "replace").encode("utf-8")
    if conversion is Conversion.BASE64_ENCODE:
        return binascii.b2a_base64(body, newline=False)
    return _base64_decode(body)


def _base64_decode(body: bytes) -> bytes:
    # The standard alphabet, strictly (no whitespace, no URL-safe characters); padding may be
    # left off, as Java's Base64 decoder allows.
    text = body.rstrip(b"=")
    if len(text) % 4 == 1:
        raise ApiConfigurationError()
    try:
        return binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)
    except binascii.Error:
        raise ApiConfigurationError() from None


# --- request decompression ---------------------------------------------------------------


def decode_request_body(
    body: bytes, content_encoding: str | None, limit: int = MAX_PAYLOAD_BYTES
) -> bytes:
    """The request body with its ``Content-Encoding`` undone.

    Raises ``UndecodableBody`` (415) for a coding other than gzip, deflate and identity or a
    body that does not decode, and ``RequestTooLarge`` (413) once the decoded body passes
    ``limit`` bytes."""
    if content_encoding is None:
        return body
    coding = content_encoding.strip().lower()
    if not coding:  # an empty header names no coding
        return body
    if coding not in _DECODABLE:
        raise UndecodableBody()
    if coding == "identity" or not body:
        return body
    if coding == "gzip":
        return _inflate(body, 16 + zlib.MAX_WBITS, limit, members=True)
    try:
        return _inflate(body, zlib.MAX_WBITS, limit, members=False)
    except UndecodableBody:
        # Some clients send raw DEFLATE (RFC 1951) for "deflate"; Java's Inflater(nowrap)
        # and browsers accept both, so do we.
        return _inflate(body, -zlib.MAX_WBITS, limit, members=False)


_CHUNK = 64 * 1024


def _inflate(data: bytes, wbits: int, limit: int, *, members: bool) -> bytes:
    out = bytearray()
    while True:
        d = zlib.decompressobj(wbits)
        pending = data
        try:
            while True:
                # max_length bounds each step's output, so a bomb stops at the limit: the
                # decoded body is never held past limit + 64 KB.
                chunk = d.decompress(pending, _CHUNK)
                out += chunk
                if len(out) > limit:
                    raise RequestTooLarge()
                if d.eof:
                    break
                pending = d.unconsumed_tail
                if not pending and not chunk:
                    raise UndecodableBody()  # truncated: the stream never ended
        except zlib.error:
            raise UndecodableBody() from None
        data = d.unused_data
        # Another gzip member follows (RFC 1952 allows several); anything else after the end
        # of the stream is ignored, as Java's GZIPInputStream and InflaterInputStream do.
        if not (members and data[:2] == b"\x1f\x8b"):
            return bytes(out)


# --- response compression ----------------------------------------------------------------


@lru_cache(maxsize=256)
def _preferred_coding(accept_encoding: str) -> str | None:
    """The client's highest-priority coding if API Gateway can produce it, else None.

    Cached by header value: clients send a handful of distinct values."""
    best: str | None = None
    best_q = 0.0
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        coding = name.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            key, eq, value = param.partition("=")
            if eq and key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if q > best_q:  # strictly greater: the first listed wins a tie
            best, best_q = coding, q
    return best if best in _COMPRESSING else None


def response_coding(
    minimum_size: int | None,
    accept_encoding: str | None,
    already_encoded: bool,
    size: int,
) -> str | None:
    """``"gzip"``, ``"deflate"`` or None (send as is) for a response body of ``size`` bytes.

    ``minimum_size`` is the API's ``minimumCompressionSize`` (None: compression off);
    ``already_encoded``: the response has a ``Content-Encoding`` header."""
    if minimum_size is None or already_encoded or size < minimum_size or not accept_encoding:
        return None
    return _preferred_coding(accept_encoding)


def compress(body: bytes, coding: str) -> bytes:
    """``body`` in ``coding`` ("gzip": RFC 1952; "deflate": the zlib format of RFC 1950,
    which is what HTTP's "deflate" means)."""
    wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
    c = zlib.compressobj(_LEVEL, zlib.DEFLATED, wbits)
    return c.compress(body) + c.flush()


def compressed_headers(coding: str, body: bytes) -> tuple[tuple[str, str], tuple[str, str]]:
    """The headers a compressed response carries (replacing any Content-Length)."""
    return (("Content-Encoding", coding), ("Content-Length", str(len(body))))
