"""Cognito user pool authorizers (``COGNITO_USER_POOLS``): the token verified against the
pools' key sets (``proxy.auth.cognito``), its claims to ``$context.authorizer.claims.*``.

A verified token is remembered until it expires, so a warm request costs a dict lookup and no
coroutine; a new token is verified once (RS256), fetching the key set first when it is not
loaded yet or lacks the token's key id.
"""

from __future__ import annotations

from proxy.auth import ALLOW, CognitoAuthorizer, CognitoClaims, Decision, UserPool
from proxy.authorizers.base import Authorizer, AuthorizerScope, Verdict
from proxy.config.model import AuthorizerDef
from proxy.context import AuthState, RequestContext

__all__ = ["CognitoUserPoolAuthorizer"]


class CognitoUserPoolAuthorizer(Authorizer):
    __slots__ = ("_cognito",)

    def __init__(self, definition: AuthorizerDef, scope: AuthorizerScope) -> None:
        super().__init__(definition)
        pools = scope.config.cognito.user_pools
        header = definition.identity_source[0].name  # the config always gives one
        # the loader refuses a provider ARN that cognito.userPools lacks
        self._cognito = CognitoAuthorizer(
            [(UserPool.from_arn(arn), scope.shared.jwks(pools[arn].jwks))
             for arn in definition.provider_arns],
            header=header, validation=definition.validation, clock=scope.shared.clock)

    def check(self, ctx: RequestContext, state: AuthState, scopes: frozenset[str]) -> Verdict:
        request = ctx.request
        assert request is not None
        token = self._cognito.token(request.headers)  # 401 without one
        verified = self._cognito.cached(token, scopes)
        if verified is not None:
            state.claims = verified.claims
            return ALLOW
        return self._verify(state, token, scopes)

    async def _verify(self, state: AuthState, token: str, scopes: frozenset[str]) -> Decision:
        verified: CognitoClaims = await self._cognito.verify(token, scopes)
        state.claims = verified.claims
        return ALLOW
