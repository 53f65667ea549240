"""What every integration gets and gives back, and what it is compiled for.

An integration is compiled once per (stage, method) at deployment load into an ``Invoker``;
``invoke`` runs per request on the request state (``proxy.context.RequestContext``: the request,
its path parameters, its body). ``Outcome`` is the integration's answer, with either the whole
body or an open upstream response to stream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from proxy._types import Services
from proxy.context import RequestContext
from proxy.encoding import BinaryMediaTypes
from proxy.upstream.base import UpstreamResponse

_NO_BINARY = BinaryMediaTypes(())


@dataclass(frozen=True, slots=True)
class MethodScope:
    """The method an invoker is compiled for, and the services it may bind."""

    api_id: str
    stage_variables: Mapping[str, str]
    resource_path: str
    services: Services
    binary: BinaryMediaTypes = _NO_BINARY  # the API's binaryMediaTypes, compiled once per API


@dataclass(slots=True)
class Outcome:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | None
    upstream: UpstreamResponse | None = None  # streamed body: the caller streams and releases
    content_type_default: bool = True  # add Content-Type: application/json when none is given
    # headers already as the client gets them (no gateway-owned name, Content-Type resolved):
    # HTTP_PROXY's remap does that in its one pass, so the responder need not look again
    clean: bool = False


class Invoker(ABC):
    type_name: str
    timeout_s: float

    @abstractmethod
    async def invoke(self, ctx: RequestContext) -> Outcome: ...

    def describe(self) -> str:
        return self.type_name
