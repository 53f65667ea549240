"""``Upstream`` over one ordinary ``aiohttp.ClientSession``: the baseline the bench measures.

Deliberately plain ClientSession use (a TCPConnector with 256 connections per host, no
cookie jar, no decompression, no auto User-Agent), so the comparison with
``proxy.upstream.pool`` measures the client, not a handicapped configuration. aiohttp's
errors become the three ``UpstreamError`` kinds in ``_upstream_errors`` and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
from yarl import URL

from proxy.errors import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from proxy.upstream.base import Origin, RawHeaders, Upstream, UpstreamResponse

__all__ = ["ClientSessionUpstream"]

# Framing and Host are the transport's (aiohttp adds them); the same set PoolUpstream drops.
_DROP = frozenset(("host", "content-length", "transfer-encoding", "connection"))


@contextmanager
def _upstream_errors() -> Iterator[None]:
    """The one place aiohttp's (and asyncio's) exceptions become Upstream errors."""
    try:
        yield
    except TimeoutError as exc:  # asyncio.timeout and aiohttp.ServerTimeoutError
        raise UpstreamTimeout("the backend did not respond within the timeout") from exc
    except (aiohttp.ClientResponseError, aiohttp.ClientPayloadError) as exc:
        raise UpstreamProtocolError(f"malformed response from the backend: {exc}") from exc
    except (aiohttp.ClientError, OSError) as exc:  # refused, reset, DNS, TLS, disconnected
        raise UpstreamConnectError(f"cannot reach the backend: {exc}") from exc


class _SessionResponse(UpstreamResponse):
    __slots__ = ("_resp", "_timeout", "body", "headers", "reason", "status")

    def __init__(self, resp: aiohttp.ClientResponse, body: bytes | None, timeout: float) -> None:
        self._resp = resp
        self._timeout = timeout
        self.status = resp.status
        self.reason = resp.reason or ""
        self.headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in resp.raw_headers]
        self.body = body

    async def stream(self) -> AsyncIterator[bytes]:
        if self.body is not None:
            if self.body:
                yield self.body
            return
        content = self._resp.content
        # As PoolUpstream: after the headers each chunk gets the timeout as an idle timeout.
        while True:
            try:
                with _upstream_errors():
                    async with asyncio.timeout(self._timeout):
                        chunk = await content.readany()
            except BaseException:
                self._resp.close()
                raise
            if not chunk:
                return
            yield chunk

    def release(self) -> None:
        resp = self._resp
        if resp.content.is_eof():
            resp.release()  # back to the connector when keep-alive holds
        else:
            resp.close()


class ClientSessionUpstream(Upstream):
    """``Upstream`` over one aiohttp ClientSession, created on first use in the running loop."""

    __slots__ = ("_bases", "_buffer_limit", "_session")

    def __init__(self, buffer_limit: int = 65536) -> None:
        if type(buffer_limit) is not int or buffer_limit < 0:
            raise ValueError(f"buffer_limit must be an integer >= 0, got {buffer_limit!r}")
        self._buffer_limit = buffer_limit
        self._session: aiohttp.ClientSession | None = None
        self._bases: dict[Origin, str] = {}

    def _new_session(self) -> aiohttp.ClientSession:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=256),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
            timeout=aiohttp.ClientTimeout(total=None),  # each request brings its own
        )
        return self._session

    async def request(
        self,
        origin: Origin,
        method: str,
        target: str,
        headers: RawHeaders,
        body: bytes | AsyncIterator[bytes] | None,
        timeout: float,
    ) -> UpstreamResponse:
        session = self._session or self._new_session()
        base = self._bases.get(origin)
        if base is None:
            if origin.scheme not in ("http", "https"):
                raise ValueError(f"origin scheme must be 'http' or 'https', got {origin.scheme!r}")
            host = f"[{origin.host}]" if ":" in origin.host else origin.host
            base = self._bases[origin] = f"{origin.scheme}://{host}:{origin.port}"
        send = [(n, v) for n, v in headers if n.lower() not in _DROP]
        resp: aiohttp.ClientResponse | None = None
        try:
            with _upstream_errors():
                async with asyncio.timeout(timeout):
                    resp = await session.request(
                        method,
                        URL(base + target, encoded=True),
                        headers=send,
                        data=body,
                        allow_redirects=False,
                        ssl=not origin.tls_insecure,
                    )
                    length = resp.content_length
                    if (
                        method == "HEAD"
                        or resp.content.is_eof()
                        or (length is not None and length <= self._buffer_limit)
                    ):
                        body_bytes: bytes | None = await resp.read()
                    else:
                        body_bytes = None
        except BaseException:
            if resp is not None:
                resp.close()  # a timed-out or broken exchange is never reused
            raise
        return _SessionResponse(resp, body_bytes, timeout)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
