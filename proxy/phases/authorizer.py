"""The authorizer, and the resource policy's final phase (spec 8.7 steps 6 and 7).

The method's authorizer (``proxy.authorizers``, chosen by type) identifies the caller and
decides for the request's method ARN; that decision and the resource policy's (from the first
phase, ``proxy.phases.resource_policy``, or evaluated again where the policy names principals
and the caller is now known) are combined as AWS's Tables A and B say
(``proxy.auth.policy.authorize``), raising 403 ACCESS_DENIED with AWS's message. A method
without an authorizer on a stage with a resource policy needs the policy's explicit Allow.

``$context.authorizer.latency`` / ``.status`` / ``.error`` are recorded on ``ctx.auth``. A
route with neither an authorizer nor a resource policy has no such phase.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable

from proxy._types import Phase
from proxy.auth import NO_DECISION, Decision, authorize
from proxy.authorizers import StageAuth
from proxy.config.model import MethodAuthorization
from proxy.context import AuthState, RequestContext
from proxy.errors import AuthError
from proxy.gateway_responses import TYPES

__all__ = ["phase"]


def phase(method: MethodAuthorization, auth: StageAuth) -> Phase | None:
    """The method's authorizer phase, or None when it has no authorizer and the stage no
    resource policy."""
    policy = auth.policy
    if method.authorizer is None:
        return None if policy is None else _policy_only(auth)
    authorizer = auth.authorizer(method.authorizer.name)
    kind = method.authorization_type  # CUSTOM, COGNITO_USER_POOLS or AWS_IAM with an authorizer
    scopes = frozenset(method.authorization_scopes)
    # the policy's first-phase answer stands unless it names principals (then it is asked
    # again with the caller: an IAM signer, or anonymous)
    ask_again = policy is not None and policy.names_principals
    account = auth.account_id
    method_arn = auth.method_arn

    def decide(state: AuthState, decision: Decision) -> None:
        resource = state.policy
        caller = state.caller
        if ask_again:
            assert policy is not None
            facts = state.facts
            assert facts is not None  # the first phase built them: the policy reads the caller
            facts.caller = caller
            resource = policy.evaluate(state.method_arn, facts)
        authorize(kind, decision, resource, state.method_arn,
                  caller=caller.user_arn if caller is not None else "anonymous",
                  cross_account=caller is not None and caller.account_id != account)

    def run(ctx: RequestContext) -> Awaitable[None] | None:
        state = ctx.auth
        if state is None:
            state = ctx.auth = AuthState(method_arn(ctx))
        start = time.perf_counter()
        try:
            verdict = authorizer.check(ctx, state, scopes)
            if isinstance(verdict, str):  # decided at once (a cached result, a signature)
                decide(state, verdict)
                _done(state, start)
                return None
        except AuthError as err:
            _failed(state, start, err)
            raise
        return wait(verdict, state, start)

    async def wait(verdict: Awaitable[Decision], state: AuthState, start: float) -> None:
        try:
            decide(state, await verdict)
        except AuthError as err:
            _failed(state, start, err)
            raise
        _done(state, start)

    return run


def _policy_only(auth: StageAuth) -> Phase:
    """No authorizer: the resource policy must allow explicitly (its first phase decided)."""
    policy = auth.policy
    assert policy is not None
    ask_again = policy.names_principals

    def check(ctx: RequestContext) -> None:
        state = ctx.auth
        assert state is not None  # the stage's first phase ran
        resource = state.policy
        if ask_again:  # anonymous: no authorizer sets a caller
            assert state.facts is not None  # the first phase built them
            resource = policy.evaluate(state.method_arn, state.facts)
        authorize("NONE", NO_DECISION, resource, state.method_arn)

    return check


def _done(state: AuthState, start: float) -> None:
    state.latency_ms = (time.perf_counter() - start) * 1000.0
    state.status = 200


def _failed(state: AuthState, start: float, err: AuthError) -> None:
    state.latency_ms = (time.perf_counter() - start) * 1000.0
    state.status = TYPES[err.response_type].status
    if state.error is None:
        # the type, never the message: that may echo the caller's credentials
        state.error = err.error_type or TYPES[err.response_type].error_type
