"""Payload encodings: request decompression, response compression, binary media types and the
DG's contentHandling conversion tables, row by row."""

from __future__ import annotations

import base64
import gzip
import os
import zlib

import pytest

from proxy.encoding import (
    MAX_PAYLOAD_BYTES,
    BinaryMediaTypes,
    Conversion,
    UndecodableBody,
    compress,
    compressed_headers,
    convert,
    decode_request_body,
    media_type,
    request_conversion,
    response_coding,
    response_conversion,
)
from proxy.errors import ApiConfigurationError, RequestTooLarge

BODY = b'{"type": "dog", "price": 249.99}' * 40


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


# --- request decompression ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("gzip", gzip.compress(BODY)),
        ("GZIP", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),  # HTTP's deflate: the zlib format
        ("deflate", raw_deflate(BODY)),  # raw DEFLATE, as some clients send it
        (" gzip ", gzip.compress(BODY)),
    ],
)
def test_a_compressed_body_is_decompressed(encoding: str, payload: bytes) -> None:
    assert decode_request_body(payload, encoding) == BODY


def test_identity_and_no_coding_leave_the_body_alone() -> None:
    assert decode_request_body(BODY, None) == BODY
    assert decode_request_body(BODY, "identity") == BODY
    assert decode_request_body(BODY, " ") == BODY
    assert decode_request_body(b"", "gzip") == b""


def test_gzip_members_are_concatenated_and_trailing_bytes_ignored() -> None:
    assert decode_request_body(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip") == b"abcd"
    assert decode_request_body(gzip.compress(b"ab") + b"\n\n", "gzip") == b"ab"


@pytest.mark.parametrize("encoding", ["br", "compress", "x-gzip", "gzip, deflate", "zstd"])
def test_an_unsupported_coding_is_415(encoding: str) -> None:
    with pytest.raises(UndecodableBody) as info:
        decode_request_body(gzip.compress(BODY), encoding)
    assert info.value.response_type == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("gzip", BODY),  # not compressed at all
        ("gzip", gzip.compress(BODY)[:-12]),  # truncated
        ("gzip", zlib.compress(BODY)),  # the wrong coding
        ("deflate", gzip.compress(BODY)[:20]),
        ("deflate", os.urandom(64)),
    ],
)
def test_a_body_not_in_its_coding_is_415(encoding: str, payload: bytes) -> None:
    with pytest.raises(UndecodableBody):
        decode_request_body(payload, encoding)


def test_a_decompression_bomb_stops_at_the_payload_limit() -> None:
    bomb = gzip.compress(b"\0" * (MAX_PAYLOAD_BYTES + 1))
    assert len(bomb) < 20_000
    with pytest.raises(RequestTooLarge):
        decode_request_body(bomb, "gzip")
    with pytest.raises(RequestTooLarge):
        decode_request_body(zlib.compress(b"\0" * 1001), "deflate", limit=1000)
    # exactly at the limit is allowed
    assert len(decode_request_body(gzip.compress(b"a" * 1000), "gzip", limit=1000)) == 1000


def test_a_bomb_split_over_many_members_is_bounded_too() -> None:
    member = gzip.compress(b"\0" * 600)
    with pytest.raises(RequestTooLarge):
        decode_request_body(member * 2, "gzip", limit=1000)


# --- response compression ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("deflate,gzip", "deflate"),  # a tie: the first listed wins
        ("gzip, deflate, br", "gzip"),  # what browsers send (DG: this triggers compression)
        ("deflate;q=0.5,gzip;q=1.0", "gzip"),  # DG example
        ("gzip;q=1.0,identity;q=0.5,*;q=0", "gzip"),  # DG example
        ("br", None),  # the highest-priority coding must be supported (DG)
        ("br, gzip", None),
        ("br;q=1.0, gzip;q=0.8", None),
        ("br;q=0.5, gzip", "gzip"),
        ("*", None),  # no explicit supported coding: no compression (DG)
        ("", None),
        ("identity", None),
        ("gzip;q=0", None),
        ("gzip;q=0, deflate;q=0.1", "deflate"),
        ("GZip ; Q=0.9", "gzip"),
        ("gzip;q=bogus, deflate", "deflate"),
    ],
)
def test_accept_encoding_chooses_the_coding(accept: str, coding: str | None) -> None:
    assert response_coding(0, accept, False, 10) == coding


def test_compression_only_at_or_above_the_threshold() -> None:
    assert response_coding(100, "gzip", False, 99) is None
    assert response_coding(100, "gzip", False, 100) == "gzip"
    assert response_coding(0, "gzip", False, 0) == "gzip"  # 0: any size


def test_no_compression_when_off_not_asked_or_already_encoded() -> None:
    assert response_coding(None, "gzip", False, 10_000) is None
    assert response_coding(0, None, False, 10_000) is None
    assert response_coding(0, "gzip", True, 10_000) is None


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compress_round_trips_with_the_right_headers(coding: str) -> None:
    out = compress(BODY, coding)
    assert len(out) < len(BODY)
    assert (gzip.decompress(out) if coding == "gzip" else zlib.decompress(out)) == BODY
    assert decode_request_body(out, coding) == BODY
    assert compressed_headers(coding, out) == (
        ("Content-Encoding", coding), ("Content-Length", str(len(out))))


# --- binary media types ------------------------------------------------------------------


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type("Application/JSON; charset=UTF-8") == "application/json"
    assert media_type(None) is None


def test_exact_and_family_wildcards_match_content_types() -> None:
    types = BinaryMediaTypes(["image/png", "application/*"])
    assert types.configured
    assert types.matches_content_type("image/png")
    assert types.matches_content_type("IMAGE/PNG; q=1")
    assert types.matches_content_type("application/octet-stream")
    assert not types.matches_content_type("image/jpeg")
    assert not types.matches_content_type("text/plain")
    assert not types.matches_content_type(None)
    assert not types.matches_content_type("application")


def test_star_star_is_everything_and_other_left_wildcards_nothing() -> None:
    assert BinaryMediaTypes(["*/*"]).matches_content_type("text/plain")
    assert BinaryMediaTypes(["*/*"]).matches_accept("application/json")
    left = BinaryMediaTypes(["*/test"])  # recorded: "wildcard on the left is not supported"
    assert not left.matches_content_type("random/test")
    assert not left.matches_accept("random/test")
    assert not left.matches_accept("*/test")


def test_none_configured_matches_nothing() -> None:
    types = BinaryMediaTypes([])
    assert not types.configured
    assert not types.matches_content_type("image/png")


# The Accept cases of LocalStack's AWS-validated test_aws_proxy_binary_response.
@pytest.mark.parametrize(
    ("configured", "accept", "binary"),
    [
        (["image/png", "*/test"], "image/png", True),
        (["image/png", "*/test"], "image/jpg", False),
        (["image/png", "*/test"], "image/*", False),  # a wildcard Accept is not expanded
        (["image/png", "*/test"], "*/test", False),
        (["image/png", "*/test"], "random/test", False),
        (["image/png", "*/test"], "*/*", False),
        (["image/png", "*/test"], "image/webp,image/png,*/*;q=0.8", False),  # first type only
        (["image/png", "*/test"], "image/png,image/*,*/*;q=0.8", True),
        (["image/png", "application/*", "image/jpg"], "application/whatever", True),
        (["image/png", "application/*", "image/jpg"], "application/*", True),
        (["image/png", "application/*", "image/jpg"], "image/jpg", True),
        (["image/png", "application/*", "image/jpg"], "application", False),
        (["image/png", "application/*", "image/jpg"], None, False),
    ],
)
def test_only_the_first_accept_type_decides(
    configured: list[str], accept: str | None, binary: bool
) -> None:
    assert BinaryMediaTypes(configured).matches_accept(accept) is binary


# --- contentHandling: the DG's "API request content type conversions" table --------------

T, B, E, D = Conversion.TEXT, Conversion.BINARY, Conversion.BASE64_ENCODE, Conversion.BASE64_DECODE


@pytest.mark.parametrize(
    ("row", "binary", "handling", "expected"),
    [
        # text data, any type, binaryMediaTypes undefined
        (1, False, None, T),  # UTF8-encoded string
        (2, False, "CONVERT_TO_BINARY", D),  # Base64-decoded binary blob
        (3, False, "CONVERT_TO_TEXT", T),  # UTF8-encoded string
        # text data, a text type, binaryMediaTypes set (no match)
        (4, False, None, T),  # Text data
        (5, False, "CONVERT_TO_BINARY", D),
        (6, False, "CONVERT_TO_TEXT", T),
        # binary data, a binary type, binaryMediaTypes set with a match
        (7, True, None, B),  # Binary data
        (8, True, "CONVERT_TO_BINARY", B),
        (9, True, "CONVERT_TO_TEXT", E),  # Base64-encoded string
    ],
)
def test_request_conversion_table(
    row: int, binary: bool, handling: str | None, expected: Conversion
) -> None:
    assert request_conversion(binary, handling) is expected


# --- the DG's "API Gateway response content type conversions" table ----------------------


@pytest.mark.parametrize(
    ("row", "payload_binary", "accept_binary", "handling", "expected"),
    [
        # text or binary data, a text Accept, binaryMediaTypes undefined: nothing is binary
        (1, False, False, None, T),  # UTF8-encoded string
        (2, False, False, "CONVERT_TO_BINARY", D),  # Base64-decoded blob
        (3, False, False, "CONVERT_TO_TEXT", T),
        # text data, a text Accept, set
        (4, False, False, None, T),  # Text data
        (5, False, False, "CONVERT_TO_BINARY", D),
        (6, False, False, "CONVERT_TO_TEXT", T),
        # text data, a binary Accept, set
        (7, False, True, None, D),  # Base64-decoded blob
        (8, False, True, "CONVERT_TO_BINARY", D),
        (9, False, True, "CONVERT_TO_TEXT", T),  # UTF8-encoded string
        # binary data, a text Accept, set
        (10, True, False, None, E),  # Base64-encoded string
        (11, True, False, "CONVERT_TO_BINARY", B),  # Binary data
        (12, True, False, "CONVERT_TO_TEXT", E),
        # binary data, a binary Accept, set
        (13, True, True, None, B),
        (14, True, True, "CONVERT_TO_BINARY", B),
        (15, True, True, "CONVERT_TO_TEXT", E),
    ],
)
def test_response_conversion_table(
    row: int, payload_binary: bool, accept_binary: bool, handling: str | None,
    expected: Conversion,
) -> None:
    assert response_conversion(payload_binary, accept_binary, handling) is expected


# --- the conversions themselves ----------------------------------------------------------

PNG = bytes(range(256)) * 4


def test_base64_round_trip() -> None:
    encoded = convert(PNG, Conversion.BASE64_ENCODE)
    assert encoded == base64.b64encode(PNG)
    assert convert(encoded, Conversion.BASE64_DECODE) == PNG


def test_base64_decode_accepts_missing_padding_as_java_does() -> None:
    assert convert(b"aGVsbG8", Conversion.BASE64_DECODE) == b"hello"
    assert convert(b"aGVsbG8=", Conversion.BASE64_DECODE) == b"hello"
    assert convert(b"", Conversion.BASE64_DECODE) == b""


@pytest.mark.parametrize(
    "body", ["èé+à)(".encode(), b'{"message": "hello"}', b"aGVs bG8=", b"a", b"aGVsbG8=x="]
)
def test_text_that_is_not_base64_is_an_api_configuration_error(body: bytes) -> None:
    with pytest.raises(ApiConfigurationError) as info:
        convert(body, Conversion.BASE64_DECODE)
    assert info.value.response_type == "API_CONFIGURATION_ERROR"


def test_text_conversion_replaces_bytes_that_are_not_utf8() -> None:
    assert convert(b"plain", Conversion.TEXT) == b"plain"
    assert convert("héllo".encode(), Conversion.TEXT) == "héllo".encode()
    # undeclared binary is corrupted into U+FFFD, as AWS corrupts it
    assert convert(b"\x89PNG\xff", Conversion.TEXT) == b"\xef\xbf\xbdPNG\xef\xbf\xbd"


def test_binary_conversion_is_the_identity() -> None:
    assert convert(PNG, Conversion.BINARY) is PNG
