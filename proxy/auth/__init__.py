"""Who may call (issue 17): the decisions the authorizer phases make, pure and tested apart.

- ``policy``: IAM policy documents (authorizer outputs, resource policies) and AWS's Tables A/B;
- ``sigv4``: AWS_IAM signature verification against ``iam.credentials``;
- ``cognito``: user pool JWTs against the pool's JWKS;
- ``lambda_authorizer``: TOKEN/REQUEST identity, events, outputs, errors and the result cache;
- ``arn``: the execute-api ARNs they all speak.

Errors are ``proxy.errors.AuthError`` subclasses carrying the gateway response type.
"""

from __future__ import annotations

from proxy.auth._types import ANONYMOUS, IamIdentity, RequestFacts
from proxy.auth.arn import api_arn, mask_account, method_arn
from proxy.auth.cognito import CognitoAuthorizer, CognitoClaims, Jwks, JwksError, UserPool
from proxy.auth.lambda_authorizer import (
    AuthorizerResult,
    IdentitySource,
    LambdaAuthorizer,
    ResultCache,
    function_error,
    parse_identity_sources,
    parse_output,
    request_event,
    token_event,
)
from proxy.auth.policy import (
    ALLOW,
    DENY,
    NO_DECISION,
    Decision,
    Policy,
    PolicyDocument,
    PolicyError,
    authorize,
    parse_policy,
)
from proxy.auth.sigv4 import SigV4Verifier

__all__ = [
    "ALLOW",
    "ANONYMOUS",
    "DENY",
    "NO_DECISION",
    "AuthorizerResult",
    "CognitoAuthorizer",
    "CognitoClaims",
    "Decision",
    "IamIdentity",
    "IdentitySource",
    "Jwks",
    "JwksError",
    "LambdaAuthorizer",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "RequestFacts",
    "ResultCache",
    "SigV4Verifier",
    "UserPool",
    "api_arn",
    "authorize",
    "function_error",
    "mask_account",
    "method_arn",
    "parse_identity_sources",
    "parse_output",
    "parse_policy",
    "request_event",
    "token_event",
]
