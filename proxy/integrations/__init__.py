"""Integrations by type: ``INVOKERS`` maps an integration type to the ``Invoker`` class that
serves it (uvicorn's ``HTTP_PROTOCOLS``), so a new type is a new module and a line here."""

from __future__ import annotations

from collections.abc import Callable

from proxy.config.model import Integration
from proxy.integrations.aws_lambda import aws_invoker
from proxy.integrations.aws_proxy import AwsProxyInvoker
from proxy.integrations.base import Invoker, MethodScope, Outcome
from proxy.integrations.http import HttpInvoker
from proxy.integrations.http_proxy import HttpProxyInvoker
from proxy.integrations.mock import MockInvoker
from proxy.integrations.unsupported import UnsupportedInvoker

__all__ = ["INVOKERS", "Invoker", "MethodScope", "Outcome", "make_invoker"]

InvokerFactory = Callable[[Integration, MethodScope], Invoker]

INVOKERS: dict[str, InvokerFactory] = {
    "AWS": aws_invoker,
    "AWS_PROXY": AwsProxyInvoker,
    "HTTP": HttpInvoker,
    "HTTP_PROXY": HttpProxyInvoker,
    "MOCK": MockInvoker,
}


def make_invoker(integration: Integration, scope: MethodScope) -> Invoker:
    """The invoker of ``integration`` for one method; types not served yet answer 500."""
    factory = INVOKERS.get(integration.type, UnsupportedInvoker)
    return factory(integration, scope)
