"""Parameter mapping expressions (spec 8.5), compiled to getters once per method."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from proxy.context import CONTEXT_VARIABLES
from proxy.integrations.base import Call

Getter = Callable[[Call], str | None]



def compile_source(expr: str, stage_variables: Mapping[str, str]) -> Getter | None:
    """A getter for one source expression, or None when the expression is not supported."""
    if len(expr) >= 2 and expr[0] == expr[-1] == "'":
        literal = expr[1:-1]
        return lambda _c: literal
    if expr.startswith("stageVariables."):
        value = stage_variables.get(expr[len("stageVariables."):])
        return lambda _c: value
    if expr.startswith("context."):
        variable = CONTEXT_VARIABLES.get(expr[len("context."):])
        if variable is None:
            return None
        return lambda c: variable(c.ctx)
    prefix, _, name = expr.partition(".request.")
    if prefix != "method" or "." not in name:
        return None
    kind, _, pname = name.partition(".")
    if kind == "path":
        return lambda c: c.path_params.get(pname)
    if kind == "querystring":
        return lambda c: c.query.get(pname)
    if kind == "multivaluequerystring":
        return lambda c: ",".join(c.query.getall(pname)) if pname in c.query else None
    if kind == "header":
        return lambda c: c.headers.get(pname)
    if kind == "multivalueheader":
        return lambda c: ",".join(c.headers.getall(pname)) if pname in c.headers else None
    return None
