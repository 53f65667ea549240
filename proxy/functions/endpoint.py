"""A function served elsewhere: the Lambda Invoke API over the gateway's upstream pool.

``POST {endpoint}/2015-03-31/functions/{name}/invocations`` with the event as the body; a
function error comes back as 200 with ``X-Amz-Function-Error`` and Lambda's error document.
A Lambda Runtime Interface Emulator container, ``sam local start-lambda`` or LocalStack serves
it. The RIE answers only ``/2015-03-31/functions/function/invocations``: an ``endpoint`` that
already has a ``/2015-03-31/functions/.../invocations`` path is used as it is.
"""

from __future__ import annotations

import asyncio
import base64
import time
from urllib.parse import quote, urlsplit

from proxy.config.model import FunctionConfig
from proxy.errors import UpstreamError, UpstreamTimeout
from proxy.functions.base import Function, FunctionUnavailable, InvokeResult, NoInstance
from proxy.functions.runtime_api import MAX_RESPONSE_BYTES
from proxy.upstream.base import Origin, Upstream, UpstreamResponse

__all__ = ["EndpointFunction"]

_INVOKE_PREFIX = "/2015-03-31/functions/"


class EndpointFunction(Function):
    __slots__ = ("_origin", "_target", "_upstream")

    def __init__(self, config: FunctionConfig, upstream: Upstream) -> None:
        super().__init__(config)
        self._upstream = upstream
        url = urlsplit(config.endpoint or "")
        scheme = url.scheme or "http"
        self._origin = Origin(scheme, url.hostname or "127.0.0.1",
                              url.port or (443 if scheme == "https" else 80))
        path = url.path.rstrip("/")
        if _INVOKE_PREFIX in path and path.endswith("/invocations"):
            self._target = path
        else:
            self._target = f"{path}{_INVOKE_PREFIX}{quote(config.name, safe='')}/invocations"

    def describe(self) -> str:
        return f"endpoint: {self._origin.scheme}://{self._origin.host}:{self._origin.port}" \
               f"{self._target}"

    async def invoke(self, payload: bytes, *, deadline: float, trace_id: str = "",
                     function_arn: str | None = None, client_context: str | None = None,
                     cognito_identity: str | None = None) -> InvokeResult:
        timeout = deadline - asyncio.get_running_loop().time()
        if timeout <= 0:
            raise NoInstance(f"function {self.name}: no result before the deadline")
        headers = [("Content-Type", "application/json"),
                   ("X-Amz-Invocation-Type", "RequestResponse")]
        if trace_id:
            headers.append(("X-Amzn-Trace-Id", trace_id))
        if client_context:  # the Invoke API carries it base64-encoded
            headers.append(("X-Amz-Client-Context",
                            base64.b64encode(client_context.encode()).decode()))
        began = time.perf_counter()
        try:
            resp: UpstreamResponse = await self._upstream.request(
                self._origin, "POST", self._target, headers, payload, timeout)
        except UpstreamTimeout:
            raise NoInstance(f"function {self.name}: no result before the deadline") from None
        except UpstreamError as e:
            raise FunctionUnavailable(f"function {self.name}: {self.describe()}: {e}") from e
        try:
            body = resp.body
            if body is None:
                body = await self._read(resp)
            elif len(body) > MAX_RESPONSE_BYTES:
                raise self._too_large()
        except UpstreamError as e:
            raise FunctionUnavailable(f"function {self.name}: {e}") from e
        finally:
            resp.release()  # one not read to its end is closed, not reused
        if resp.status != 200:
            # Lambda's own refusals (404 ResourceNotFoundException, 429 TooManyRequests, ...)
            raise FunctionUnavailable(
                f"function {self.name}: the Invoke API answered {resp.status}: {body[:200]!r}")
        error = None
        request_id = ""
        for name, value in resp.headers:
            lower = name.lower()
            if lower == "x-amz-function-error":
                error = value
            elif lower == "x-amzn-requestid":
                request_id = value
        return InvokeResult(body, error, request_id, (time.perf_counter() - began) * 1000.0)

    async def _read(self, resp: UpstreamResponse) -> bytes:
        """A streamed answer, refused past Lambda's response limit rather than held whole."""
        chunks = []
        size = 0
        async for chunk in resp.stream():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> FunctionUnavailable:
        return FunctionUnavailable(f"function {self.name}: the Invoke API answered more than "
                                   f"Lambda's {MAX_RESPONSE_BYTES} bytes")
