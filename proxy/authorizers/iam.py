"""AWS_IAM: the request's SigV4 signature (header or presigned query) verified against
``iam.credentials`` (``proxy.auth.sigv4``); the signer becomes ``$context.identity.*``.

The configured credentials stand for IAM users whose identity policies allow
``execute-api:Invoke``: a verified signer is the authorizer's ALLOW, and the resource policy
then decides with it as AWS's Tables A and B say (a signer of another account than
``aws.accountId`` needs the resource policy's Allow too).
"""

from __future__ import annotations

from proxy.auth import ALLOW, Decision, SigV4Verifier
from proxy.authorizers.base import Authorizer, AuthorizerScope, Verdict
from proxy.config.model import AuthorizerDef
from proxy.context import AuthState, RequestContext

__all__ = ["IamAuthorizer"]


class IamAuthorizer(Authorizer):
    __slots__ = ("_verifier",)

    def __init__(self, definition: AuthorizerDef, scope: AuthorizerScope) -> None:
        super().__init__(definition)
        self._verifier: SigV4Verifier = scope.sigv4

    def check(self, ctx: RequestContext, state: AuthState, scopes: frozenset[str]) -> Verdict:
        body = ctx.body
        data = body.data if body is not None else b""
        if data is None:  # a large body still on the wire
            return self._check_read(ctx, state)
        return self._verify(ctx, state, data)

    async def _check_read(self, ctx: RequestContext, state: AuthState) -> Decision:
        assert ctx.body is not None
        return self._verify(ctx, state, await ctx.body.read())

    def _verify(self, ctx: RequestContext, state: AuthState, body: bytes) -> Decision:
        request = ctx.request
        assert request is not None
        # what the client signed: the path as sent (stage included), the raw query
        path = request.raw_path.partition("?")[0]
        state.caller = self._verifier.verify(request.method, path, ctx.query_string,
                                             request.headers, body)
        return ALLOW
