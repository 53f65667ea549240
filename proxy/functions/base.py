"""What every function gives its callers: one invocation interface for AWS_PROXY, non-proxy
AWS integrations and Lambda authorizers, whether the function runs here (``local``) or behind
a Lambda Invoke API server (``endpoint``).

    FunctionError (SluiceError)
    ├── NoInstance            no result before the caller's deadline: waited for an instance
    │                         past it, or the function still ran when it passed (a 504)
    └── FunctionUnavailable   the function cannot run at all (a 500)

A function's own failure (an exception, a crash, a timeout, an init error) is not raised: it
is an ``InvokeResult`` with ``function_error`` set, as Lambda's Invoke answers 200 with
``X-Amz-Function-Error``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from proxy.config.model import FunctionConfig
from proxy.errors import SluiceError

__all__ = ["Function", "FunctionError", "FunctionUnavailable", "InvokeResult", "NoInstance"]


class FunctionError(SluiceError):
    pass


class NoInstance(FunctionError):
    """No result before the caller's deadline; the caller answers 504."""


class FunctionUnavailable(FunctionError):
    """The function cannot run at all (closed, reserved concurrency 0, endpoint unreachable);
    the caller answers 500."""


class InvokeResult:
    """One invocation's outcome. ``payload`` is the function's response, or Lambda's error
    document (``errorMessage``, ``errorType``, ...) when ``function_error`` is set
    (``"Unhandled"``, the value of ``X-Amz-Function-Error``)."""

    __slots__ = ("cold_start", "duration_ms", "function_error", "init_duration_ms", "payload",
                 "request_id")

    def __init__(self, payload: bytes, function_error: str | None, request_id: str,
                 duration_ms: float, init_duration_ms: float | None = None) -> None:
        self.payload = payload
        self.function_error = function_error
        self.request_id = request_id  # Lambda's request id ($context.integration.requestId)
        self.duration_ms = duration_ms  # the invocation, init excluded
        self.init_duration_ms = init_duration_ms  # set on a cold start
        self.cold_start = init_duration_ms is not None

    def __repr__(self) -> str:
        return (f"InvokeResult(function_error={self.function_error!r}, "
                f"cold_start={self.cold_start}, duration_ms={self.duration_ms:.2f}, "
                f"payload={self.payload[:80]!r})")


class Function(ABC):
    """A configured function. ``deadline`` is on the event loop's clock (``loop.time()``)."""

    __slots__ = ("config", "name")

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        self.name = config.name

    @abstractmethod
    async def invoke(self, payload: bytes, *, deadline: float, trace_id: str = "",
                     function_arn: str | None = None, client_context: str | None = None,
                     cognito_identity: str | None = None) -> InvokeResult:
        """Run one invocation with ``payload`` (JSON bytes). ``function_arn`` is the ARN the
        caller named (qualifier included), reported to the function as its invoked ARN."""

    @abstractmethod
    def describe(self) -> str:
        """One line for ``sluice routes``: how the function runs."""

    async def aclose(self, grace_s: float = 0.0) -> None:  # noqa: B027 (nothing to stop)
        """Stop what the function holds (its instances); calls in flight get ``grace_s`` to
        finish, then an answer."""
