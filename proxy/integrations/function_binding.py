"""The Lambda function an AWS or AWS_PROXY integration, or a Lambda authorizer, calls, bound
once per deployment.

AWS answers 500 when the integration ``httpMethod`` is not POST (spec 8.1), when the URI (after
``${stageVariables.x}``) names no usable function, or when the name is not among the config's
``functions``; the caller checks ``callable`` once and keeps ``function`` and ``arn``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proxy.functions.arn import BadFunctionUri, FunctionTarget, resolve
from proxy.functions.base import Function

if TYPE_CHECKING:
    from proxy.functions.registry import Functions

__all__ = ["FunctionBinding", "bind_function"]


@dataclass(frozen=True, slots=True)
class FunctionBinding:
    target: FunctionTarget | None  # None: the URI names no function (500)
    function: Function | None  # None: not among the config's functions (500)
    post: bool  # the integration method is POST; anything else answers 500 on AWS
    # the target's ARN, made once: FunctionTarget.arn formats it on each read
    arn: str = ""

    @property
    def callable(self) -> bool:
        return self.post and self.function is not None and self.target is not None

    def describe(self, kind: str) -> str:
        """``sluice routes``' words: the kind and the function, or why it answers 500."""
        if self.target is None:
            return f"{kind} (no function: answers 500)"
        missing = "" if self.function is not None else " (not in functions: answers 500)"
        return f"{kind} {self.target.name}{missing}"


def bind_function(uri: str | None, stage_variables: Mapping[str, str],
                  functions: Functions | None, *,
                  http_method: str | None = None) -> FunctionBinding:
    """The function ``uri`` names among ``functions`` for a stage; ``http_method``: the
    integration's (None: POST, as an authorizer's call always is)."""
    # a GET integration method answers 500 on AWS (spec 8.1, LS-snap ...non_post_method)
    post = (http_method or "POST").upper() == "POST"
    try:
        target: FunctionTarget | None = resolve(uri or "", stage_variables)
    except BadFunctionUri:
        target = None  # a stage variable naming nothing usable: 500, as AWS
    if target is None:
        return FunctionBinding(None, None, post)
    function = functions.get(target.name) if functions is not None else None
    return FunctionBinding(target, function, post, target.arn)
