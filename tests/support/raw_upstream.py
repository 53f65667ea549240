"""A backend on a raw socket that keeps every byte it receives, and a raw client: for tests that
must see exactly what crossed the wire (smuggling, dot segments, forwarded headers) and for
backends that misbehave on purpose (reset, garbage, stall)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Literal

Mode = Literal["ok", "reset", "garbage", "stall"]

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


class RawUpstream:
    """``received`` holds each connection's bytes; ``mode`` decides the answer to a request."""

    def __init__(self, mode: Mode = "ok") -> None:
        self.mode: Mode = mode
        self.received: list[bytearray] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def all_bytes(self) -> bytes:
        return b"".join(bytes(b) for b in self.received)

    def request_lines(self) -> list[str]:
        """The first line of every request seen (one per keep-alive exchange at most)."""
        lines = []
        for data in self.received:
            for part in bytes(data).split(b"\r\n\r\n"):
                first = part.split(b"\r\n", 1)[0]
                if first[:4] in (b"GET ", b"POST", b"PUT ", b"DELE", b"HEAD", b"PATC", b"OPTI"):
                    lines.append(first.decode("latin-1"))
        return lines

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        self.received.append(buf)
        self._writers.add(writer)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                buf += data
                if b"\r\n\r\n" not in buf:
                    continue
                head, _, rest = bytes(buf).rpartition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length" and value.strip().isdigit():
                        length = int(value)
                if len(rest) < length:
                    continue
                if self.mode == "ok":
                    writer.write(OK)
                elif self.mode == "garbage":
                    writer.write(b"\x00\x01not http at all\r\n\r\n")
                    await writer.drain()
                    writer.close()
                    return
                elif self.mode == "reset":
                    transport = writer.transport
                    sock = transport.get_extra_info("socket")
                    if sock is not None:  # RST instead of FIN
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                    transport.abort()
                    return
                else:  # stall: read on, answer never
                    continue
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


@contextlib.asynccontextmanager
async def raw_upstream(mode: Mode = "ok") -> AsyncIterator[RawUpstream]:
    up = RawUpstream(mode)
    await up.start()
    try:
        yield up
    finally:
        await up.stop()


async def exchange(port: int, data: bytes, *, timeout: float = 5.0,
                   half_close: bool = False) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it or ``timeout``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        out = bytearray()
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout):
                while True:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    out += chunk
        return bytes(out)
    finally:
        writer.close()


async def first_response(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``data`` and return the first response's bytes (head and a Content-Length body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(timeout):
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
        return head + body
    finally:
        writer.close()
