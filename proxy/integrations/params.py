"""Parameter mapping expressions (spec 8.5), compiled to getters once per method."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from proxy.integrations.base import Call

Getter = Callable[[Call], str | None]

_CONTEXT: dict[str, Callable[[Call], str | None]] = {
    "requestId": lambda c: c.ctx.request_id,
    "extendedRequestId": lambda c: c.ctx.extended_request_id,
    "apiId": lambda c: c.ctx.api_id,
    "stage": lambda c: c.ctx.stage,
    "httpMethod": lambda c: c.method,
    "path": lambda c: c.ctx.path,
    "resourcePath": lambda c: c.ctx.resource_path,
    "identity.sourceIp": lambda c: c.ctx.source_ip,
    "identity.userAgent": lambda c: c.ctx.user_agent,
    "identity.apiKeyId": lambda c: c.ctx.api_key_id,
    "identity.apiKey": lambda c: c.ctx.api_key,
    "domainName": lambda c: c.ctx.domain_name,
    "requestTimeEpoch": lambda c: str(c.ctx.request_time_epoch_ms),
}


def compile_source(expr: str, stage_variables: Mapping[str, str]) -> Getter | None:
    """A getter for one source expression, or None when the expression is not supported."""
    if len(expr) >= 2 and expr[0] == expr[-1] == "'":
        literal = expr[1:-1]
        return lambda _c: literal
    if expr.startswith("stageVariables."):
        value = stage_variables.get(expr[len("stageVariables."):])
        return lambda _c: value
    if expr.startswith("context."):
        return _CONTEXT.get(expr[len("context."):])
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
