"""The upstream transport: ``Upstream`` and its two implementations."""

from __future__ import annotations

from proxy.upstream.base import Origin, Upstream, UpstreamResponse
from proxy.upstream.client_session import ClientSessionUpstream
from proxy.upstream.pool import PoolLimits, PoolUpstream

__all__ = [
    "ClientSessionUpstream",
    "Origin",
    "PoolLimits",
    "PoolUpstream",
    "Upstream",
    "UpstreamResponse",
]
