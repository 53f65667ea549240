"""What every integration gets and gives back.

An integration is compiled once per (stage, method) at deployment load; ``invoke`` runs per
request. ``Call`` carries what the method request has; ``Outcome`` is the integration's answer,
with either the whole body or an open upstream response to stream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from multidict import CIMultiDictProxy, MultiMapping

from proxy.context import RequestContext
from proxy.upstream.base import UpstreamResponse

if TYPE_CHECKING:
    from aiohttp.web import BaseRequest


@dataclass(slots=True)
class Call:
    method: str
    raw_path: str  # the path after the stage, raw
    query_string: str  # raw, without "?"
    headers: CIMultiDictProxy[str]
    raw_headers: tuple[tuple[bytes, bytes], ...]
    request: BaseRequest  # read for ``query`` only, parsed when a mapping asks
    path_params: Mapping[str, str]
    body: bytes | None  # None when the body is streamed (see stream)
    stream: object | None  # aiohttp StreamReader for a large body of known length
    content_length: int | None
    ctx: RequestContext
    scheme: str
    host_port: int

    @property
    def query(self) -> MultiMapping[str]:
        # aiohttp parses the query string into a MultiDict on first access: only parameter
        # mappings read it, so a request without one skips that (-1.5k of 287k instructions a
        # proxied GET, callgrind)
        return self.request.query


@dataclass(slots=True)
class Outcome:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | None
    upstream: UpstreamResponse | None = None  # streamed body: the caller streams and releases
    content_type_default: bool = True  # add Content-Type: application/json when none is given
    # headers already as the client gets them (no gateway-owned name, Content-Type resolved):
    # HTTP_PROXY's remap does that in its one pass, so the handler need not look again
    clean: bool = False


class Invoker(ABC):
    type_name: str
    timeout_s: float

    @abstractmethod
    async def invoke(self, call: Call) -> Outcome: ...

    def describe(self) -> str:
        return self.type_name
