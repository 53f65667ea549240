"""Integration types not served yet answer 500, as AWS answers a method it cannot integrate."""

from __future__ import annotations

from proxy.config.model import Integration
from proxy.context import RequestContext
from proxy.errors import ApiConfigurationError
from proxy.integrations.base import Invoker, MethodScope, Outcome


class UnsupportedInvoker(Invoker):
    __slots__ = ("timeout_s", "type_name")

    def __init__(self, integration: Integration, scope: MethodScope) -> None:
        self.type_name = integration.type
        self.timeout_s = integration.timeout_ms / 1000

    async def invoke(self, ctx: RequestContext) -> Outcome:
        raise ApiConfigurationError()

    def describe(self) -> str:
        return f"{self.type_name} (not supported yet: answers 500)"
