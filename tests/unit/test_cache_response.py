from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache import CachedResponse

headers = st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=8).map(tuple)


@given(status=st.integers(100, 599), headers=headers, body=st.binary(max_size=4096))
def test_encode_decode_round_trip(
    status: int, headers: tuple[tuple[str, str], ...], body: bytes
) -> None:
    resp = CachedResponse(status, headers, body)
    assert CachedResponse.decode(resp.encode()) == resp


def test_body_is_stored_raw_not_base64() -> None:
    body = bytes(range(256)) * 64
    data = CachedResponse(200, (("Content-Type", "image/png"),), body).encode()
    assert data.endswith(body)
    assert len(data) - len(body) < 64


def test_repeated_headers_keep_their_order() -> None:
    resp = CachedResponse(200, (("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X", "")), b"")
    assert CachedResponse.decode(resp.encode()).headers == resp.headers


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x00",
        b"\x02\x00\x00\x00\x02[]",  # unknown format version
        b"\x01\x00\x00\x00\xff[200,[]]",  # header longer than the entry
        b"\x01\x00\x00\x00\x05{bad}",
        b"\x01\x00\x00\x00\x0f[200,[[1,2,3]]]",  # a header that is not a pair
        b"\x01\x00\x00\x00\x02[]",  # not [status, headers]
    ],
)
def test_decode_rejects_what_encode_did_not_write(data: bytes) -> None:
    with pytest.raises(ValueError):
        CachedResponse.decode(data)
