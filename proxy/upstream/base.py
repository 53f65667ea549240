"""The upstream transport: one request to one HTTP backend.

``Upstream`` is what integrations depend on; ``proxy.upstream.pool`` (keep-alive pools of
``proxy.upstream.connection`` connections on ``asyncio.Protocol`` + httptools) and
``proxy.upstream.client_session`` (aiohttp's ClientSession, kept as the measured baseline)
implement it. Implementations raise only ``proxy.errors.UpstreamError`` subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import NamedTuple

# Raw header pairs as they go on the wire: (name, value), case kept, order kept.
RawHeaders = Sequence[tuple[str, str]]


class Origin(NamedTuple):
    """Where a pool connects. A NamedTuple: it keys the pool's dict on every request, and a
    tuple hashes in C where a frozen dataclass runs a generated Python ``__hash__``."""

    scheme: str  # "http" | "https"
    host: str
    port: int
    tls_insecure: bool = False


class UpstreamResponse(ABC):
    """A response whose headers have arrived.

    ``body`` is the whole body when it was small enough to buffer (at most the transport's
    ``buffer_limit``), else ``None`` and ``stream()`` yields it. Call ``release()`` exactly
    once when done (idempotent): it returns the connection to the pool when the message was
    read completely and both sides allow keep-alive, and closes it otherwise.
    """

    __slots__ = ()  # lets the implementations' __slots__ take effect (no __dict__)

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes | None

    @abstractmethod
    def stream(self) -> AsyncIterator[bytes]: ...

    @abstractmethod
    def release(self) -> None: ...


class Upstream(ABC):
    __slots__ = ()

    @abstractmethod
    def request(
        self,
        origin: Origin,
        method: str,
        target: str,  # path and query, already encoded: "/pets?limit=2"
        headers: RawHeaders,  # end-to-end headers; the transport adds Host and framing
        body: bytes | AsyncIterator[bytes] | None,
        timeout: float,  # seconds until the response headers (and a buffered body) arrive
    ) -> Awaitable[UpstreamResponse]:
        """Send one request (an ``async def``, or a plain method returning the awaitable that
        does it); raise UpstreamConnectError / UpstreamTimeout /
        UpstreamProtocolError. On UpstreamTimeout the connection is closed, never reused."""

    @abstractmethod
    async def aclose(self) -> None: ...
