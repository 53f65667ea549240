"""A cached integration response and its compact byte form.

The stored form is ``b"\\x01" + u32 header length + orjson([status, headers]) + body``: the body
stays raw bytes (base64 would add a third to every entry and cost an encode on each hit).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import orjson

_VERSION = 1
_PREFIX = struct.Struct(">BI")  # format version, length of the JSON header


@dataclass(frozen=True, slots=True)
class CachedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def encode(self) -> bytes:
        """The stored form: a small JSON header, then the body bytes unchanged."""
        head = orjson.dumps((self.status, self.headers))
        return b"".join((_PREFIX.pack(_VERSION, len(head)), head, self.body))

    @staticmethod
    def decode(data: bytes) -> CachedResponse:
        """The inverse of :meth:`encode`; ``ValueError`` on bytes it did not write."""
        if len(data) < _PREFIX.size:
            raise ValueError("cached entry is shorter than its prefix")
        version, head_len = _PREFIX.unpack_from(data)
        if version != _VERSION:
            raise ValueError(f"cached entry has format version {version}, expected {_VERSION}")
        end = _PREFIX.size + head_len
        if end > len(data):
            raise ValueError("cached entry is truncated")
        try:
            status, headers = orjson.loads(memoryview(data)[_PREFIX.size : end])
            pairs = tuple((name, value) for name, value in headers)
        except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise ValueError(f"cached entry has a bad header: {exc}") from exc
        return CachedResponse(status, pairs, data[end:])
