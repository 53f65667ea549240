"""Lambda functions on this machine (CONTRACT.md section 7): local instances speaking the
Lambda Runtime API, or a Lambda Invoke API endpoint, behind one invocation interface."""

from __future__ import annotations

from proxy.functions.arn import BadFunctionUri, FunctionTarget, is_lambda_uri, resolve
from proxy.functions.base import (
    Function,
    FunctionError,
    FunctionUnavailable,
    InvokeResult,
    NoInstance,
)
from proxy.functions.concurrency import SharedConcurrency, Slots
from proxy.functions.endpoint import EndpointFunction
from proxy.functions.local import LocalFunction
from proxy.functions.metrics import FunctionMetrics
from proxy.functions.registry import Functions

__all__ = [
    "BadFunctionUri",
    "EndpointFunction",
    "Function",
    "FunctionError",
    "FunctionMetrics",
    "FunctionTarget",
    "FunctionUnavailable",
    "Functions",
    "InvokeResult",
    "LocalFunction",
    "NoInstance",
    "SharedConcurrency",
    "Slots",
    "is_lambda_uri",
    "resolve",
]
