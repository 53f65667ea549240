"""Parameter mapping expressions (spec 8.5), compiled to getters once per method."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from proxy.context import RequestContext, getter, lookup

Getter = Callable[[RequestContext], str | None]


def compile_source(expr: str, stage_variables: Mapping[str, str]) -> Getter | None:
    """A getter for one source expression, or None when the expression is not supported."""
    if len(expr) >= 2 and expr[0] == expr[-1] == "'":
        literal = expr[1:-1]
        return lambda _c: literal
    if expr.startswith("stageVariables."):
        stage_value = stage_variables.get(expr[len("stageVariables."):])
        return lambda _c: stage_value
    if expr.startswith("context."):
        name = expr[len("context."):]
        if lookup(name) is None:
            return None
        return getter(name)  # the compiled reader of proxy.context
    prefix, _, name = expr.partition(".request.")
    if prefix != "method" or "." not in name:
        return None
    kind, _, pname = name.partition(".")
    # the request is on the state of every request that reaches an integration
    if kind == "path":
        return lambda c: c.path_params.get(pname)
    if kind == "querystring":
        return lambda c: c.request.query.get(pname)  # type: ignore[union-attr]
    if kind == "multivaluequerystring":
        return lambda c: (",".join(q.getall(pname))
                          if pname in (q := c.request.query) else None)  # type: ignore[union-attr]
    if kind == "header":
        return lambda c: c.request.headers.get(pname)  # type: ignore[union-attr]
    if kind == "multivalueheader":
        return lambda c: (",".join(h.getall(pname))
                          if pname in (h := c.request.headers) else None)  # type: ignore[union-attr]
    return None
