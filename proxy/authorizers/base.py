"""What an authorizer is to the pipeline, and what it is compiled against.

An ``Authorizer`` is compiled once per (stage, authorizer) at deployment load (``proxy.authorizers
.stage``) from its ``AuthorizerDef``; ``check`` runs per request. It identifies the caller, puts
what it found on the request's ``AuthState`` (``ctx.auth``: principal and context, claims, the
IAM signer) and answers its own decision for the request's method ARN: ALLOW, DENY or
NO_DECISION (``proxy.auth.policy``). The authorizer phase (``proxy.phases.authorizer``) then
combines that decision with the resource policy (AWS's Tables A and B). Failures are raised as
``proxy.errors.AuthError`` (401 UNAUTHORIZED, 403, 500 AUTHORIZER_CONFIGURATION_ERROR).

``check`` answers at once when it can (a cached result, a verified signature) and returns an
awaitable only when it must wait (a function call, a key set to fetch), so a warm route pays no
coroutine for its authorizer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proxy.auth import Decision, SigV4Verifier
from proxy.authorizers.services import AuthorizerServices
from proxy.config.model import AuthorizerDef, Config
from proxy.context import AuthState, RequestContext

if TYPE_CHECKING:
    from proxy._types import Services

__all__ = ["Authorizer", "AuthorizerScope", "Verdict"]

Verdict = Decision | Awaitable[Decision]


@dataclass(frozen=True, slots=True)
class AuthorizerScope:
    """The stage an authorizer is compiled for, and what it may bind."""

    api_id: str
    stage: str
    stage_variables: Mapping[str, str]
    config: Config
    services: Services
    shared: AuthorizerServices
    sigv4: SigV4Verifier  # the deployment's, over iam.credentials


class Authorizer(ABC):
    """One authorizer of one stage."""

    __slots__ = ("definition",)

    def __init__(self, definition: AuthorizerDef) -> None:
        self.definition = definition

    @abstractmethod
    def check(self, ctx: RequestContext, state: AuthState, scopes: frozenset[str]) -> Verdict:
        """Identify the caller of one request and decide for ``state.method_arn``: a decision
        now, or an awaitable of one. ``scopes``: the method's ``authorizationScopes``."""

    def describe(self) -> str:
        return f"{self.definition.type} {self.definition.name}"
