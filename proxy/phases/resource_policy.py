"""The resource policy (``x-amazon-apigateway-policy``), first phase: before the route is looked
up, a statement that denies this request whoever makes it answers 403 ACCESS_DENIED, naming the
caller and the resource as AWS does, and no authorizer runs (DG
``apigateway-authorization-flow.md``). The decision stays on ``ctx.auth`` for the final phase
(``proxy.phases.authorizer``), which combines it with the authorizer's.

A stage without a resource policy has no such phase.
"""

from __future__ import annotations

from proxy._types import Phase
from proxy.auth import ANONYMOUS, DENY, RequestFacts
from proxy.auth.policy import resource_message
from proxy.authorizers import StageAuth
from proxy.context import AuthState, RequestContext
from proxy.errors import AccessDenied

__all__ = ["guard"]


def guard(auth: StageAuth) -> Phase | None:
    """The stage's first phase, or None when it has no resource policy."""
    policy = auth.policy
    if policy is None:
        return None
    reads_request = policy.needs_facts
    method_arn = auth.method_arn

    def first(ctx: RequestContext) -> None:
        arn = method_arn(ctx)
        state = ctx.auth = AuthState(arn)
        if reads_request:
            decision = policy.evaluate(arn, _facts(ctx, state), before_caller=True)
        else:  # a policy that reads nothing of the request answers from its per-ARN memo
            decision = policy.evaluate(arn, ANONYMOUS, before_caller=True)
        if decision == DENY:
            raise AccessDenied(resource_message("anonymous", arn, explicit=True))
        state.policy = decision

    return first


def _facts(ctx: RequestContext, state: AuthState) -> RequestFacts:
    """What a policy condition may read of this request (aws:SourceIp, aws:UserAgent, ...),
    kept on ``state`` for the final phase, which sets the caller (built once a request)."""
    request = ctx.request
    found = state.facts = RequestFacts(
        ctx.source_ip, now=ctx.request_time_epoch_ms / 1000,
        user_agent=ctx.user_agent,
        referer=request.headers.get("Referer") if request is not None else None,
        secure_transport=request.secure if request is not None else False)
    return found
