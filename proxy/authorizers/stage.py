"""A stage's who-may-call settings compiled once at deployment load: its method ARN prefix, its
resource policy (``execute-api:`` expanded for this API), its authorizers (one instance per
stage, so a result cache is per stage as on AWS) and its API key source."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from proxy.auth import Policy, SigV4Verifier, api_arn
from proxy.authorizers.base import Authorizer, AuthorizerScope
from proxy.authorizers.services import AuthorizerServices
from proxy.config.model import ApiConfig, ApiKeySource, AuthorizerDef, Config, StageConfig
from proxy.context import RequestContext

if TYPE_CHECKING:
    from proxy._types import Services

__all__ = ["DeploymentAuth", "StageAuth"]


class StageAuth:
    """What the resource policy and authorizer phases of one stage bind."""

    __slots__ = ("_authorizers", "_make", "_scope", "account_id", "api_key_source",
                 "arn_prefix", "policy")

    def __init__(self, scope: AuthorizerScope, policy: Policy | None,
                 api_key_source: ApiKeySource,
                 make: Callable[[str, AuthorizerScope], Authorizer]) -> None:
        aws = scope.config.aws
        # arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/ -- then METHOD/path
        self.arn_prefix = f"{api_arn(aws.region, aws.account_id, scope.api_id)}/{scope.stage}/"
        self.account_id = aws.account_id
        self.policy = policy
        self.api_key_source = api_key_source
        self._scope = scope
        self._make = make
        self._authorizers: dict[str, Authorizer] = {}

    def method_arn(self, ctx: RequestContext) -> str:
        """The request's ARN: the method as requested (not ANY), the path after the stage as
        sent (the root is ``.../GET/``)."""
        return f"{self.arn_prefix}{ctx.http_method}{ctx.rest_path}"

    def authorizer(self, name: str) -> Authorizer:
        """The stage's authorizer of that name, made on first use (by the first method that
        names it), so every method shares its cache."""
        found = self._authorizers.get(name)
        if found is None:
            found = self._authorizers[name] = self._make(name, self._scope)
        return found


class DeploymentAuth:
    """Per deployment: the SigV4 verifier over ``iam.credentials`` and the per-process
    services, shared by every stage's authorizers."""

    __slots__ = ("_config", "_make", "_services", "_shared", "_sigv4")

    def __init__(self, config: Config, services: Services,
                 make: Callable[[AuthorizerDef, AuthorizerScope], Authorizer]) -> None:
        """``make``: an authorizer from its definition (the registry's ``make_authorizer``)."""
        self._config = config
        self._services = services
        self._make = make
        self._shared = services.authorizers or AuthorizerServices()
        self._sigv4 = SigV4Verifier(config.iam.credentials, region=config.aws.region,
                                    clock=self._shared.clock)

    def stage(self, api: ApiConfig, stage: StageConfig) -> StageAuth:
        definition = api.definition
        make = self._make
        aws = self._config.aws
        scope = AuthorizerScope(api.id, stage.name, stage.variables, self._config,
                                self._services, self._shared, self._sigv4)
        policy = definition.policy.compile(api_arn(aws.region, aws.account_id, api.id)) \
            if definition.policy is not None else None
        authorizers = definition.authorizers
        return StageAuth(scope, policy, definition.api_key_source,
                         lambda name, s: make(authorizers[name], s))
