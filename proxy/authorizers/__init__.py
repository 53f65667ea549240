"""Authorizers by type: ``AUTHORIZERS`` maps an authorizer type to the ``Authorizer`` class
that serves it (as ``proxy.integrations.INVOKERS`` does integrations); ``deployment_auth``
compiles each stage's authorizers and resource policy into a ``StageAuth`` for the phases to
bind."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from proxy.authorizers.base import Authorizer, AuthorizerScope, Verdict
from proxy.authorizers.cognito import CognitoUserPoolAuthorizer
from proxy.authorizers.custom import CustomAuthorizer
from proxy.authorizers.iam import IamAuthorizer
from proxy.authorizers.services import AuthorizerServices
from proxy.authorizers.stage import DeploymentAuth, StageAuth
from proxy.config.model import AuthorizerDef, AuthorizerType, Config

if TYPE_CHECKING:
    from proxy._types import Services

__all__ = [
    "AUTHORIZERS",
    "Authorizer",
    "AuthorizerScope",
    "AuthorizerServices",
    "DeploymentAuth",
    "StageAuth",
    "Verdict",
    "deployment_auth",
    "make_authorizer",
]

AuthorizerFactory = Callable[[AuthorizerDef, AuthorizerScope], Authorizer]

AUTHORIZERS: dict[AuthorizerType, AuthorizerFactory] = {
    "TOKEN": CustomAuthorizer,
    "REQUEST": CustomAuthorizer,
    "COGNITO_USER_POOLS": CognitoUserPoolAuthorizer,
    "AWS_IAM": IamAuthorizer,
}


def make_authorizer(definition: AuthorizerDef, scope: AuthorizerScope) -> Authorizer:
    return AUTHORIZERS[definition.type](definition, scope)


def deployment_auth(config: Config, services: Services) -> DeploymentAuth:
    """What a deployment's stages compile their authorizers and resource policies with."""
    return DeploymentAuth(config, services, make_authorizer)
