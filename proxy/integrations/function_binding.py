"""The Lambda function an AWS or AWS_PROXY integration calls, bound once per deployment.

Both integrations answer 500 as AWS does when the integration ``httpMethod`` is not POST (spec
8.1), when the URI (after ``${stageVariables.x}``) names no usable function, or when the name
is not among the config's ``functions``; the invoker checks ``callable`` on each request and
reads ``function`` and ``target`` from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.config.model import Integration
from proxy.functions.arn import BadFunctionUri, FunctionTarget, resolve
from proxy.functions.base import Function
from proxy.integrations.base import MethodScope

__all__ = ["FunctionBinding", "bind_function"]


@dataclass(frozen=True, slots=True)
class FunctionBinding:
    target: FunctionTarget | None  # None: the URI names no function (500)
    function: Function | None  # None: not among the config's functions (500)
    post: bool  # the integration method is POST; anything else answers 500 on AWS

    @property
    def callable(self) -> bool:
        return self.post and self.function is not None and self.target is not None

    def describe(self, kind: str) -> str:
        """``sluice routes``' words: the kind and the function, or why it answers 500."""
        if self.target is None:
            return f"{kind} (no function: answers 500)"
        missing = "" if self.function is not None else " (not in functions: answers 500)"
        return f"{kind} {self.target.name}{missing}"


def bind_function(integration: Integration, scope: MethodScope) -> FunctionBinding:
    # a GET integration method answers 500 on AWS (spec 8.1, LS-snap ...non_post_method)
    post = (integration.http_method or "POST").upper() == "POST"
    try:
        target: FunctionTarget | None = resolve(integration.uri or "", scope.stage_variables)
    except BadFunctionUri:
        target = None  # a stage variable naming nothing usable: 500, as AWS
    functions = scope.services.functions
    function = functions.get(target.name) if functions is not None and target is not None \
        else None
    return FunctionBinding(target, function, post)
