"""The gateway's shared resources, created once per process and closed in order.

One owner for each: the upstream pool, the limiter and its store, the key registry, the
response cache, the metrics, the access-log writers. They are the ``Services`` a deployment is
compiled against. ``Runtime.aclose`` closes them in reverse order of creation, each even when an
earlier close failed.
"""

from __future__ import annotations

import contextlib
import logging
import os

from cache import ResponseCache, cache_storage_from_url
from proxy._types import Services
from proxy.accesslog import AccessLog
from proxy.authorizers import AuthorizerServices
from proxy.config.model import Config
from proxy.deployment import Deployment, compile_deployment
from proxy.functions import Functions
from proxy.functions.concurrency import SharedConcurrency
from proxy.functions.metrics import FunctionMetrics
from proxy.handler import Gateway
from proxy.metrics import Metrics
from proxy.record import Recorder
from proxy.upstream import ClientSessionUpstream, PoolUpstream, Upstream
from ratelimit import InFlight, Limiter, Registry, registry_store_from_url, storage_from_url

log = logging.getLogger("sluice.runtime")


def make_upstream() -> Upstream:
    # SLUICE_UPSTREAM_CLIENT=aiohttp selects aiohttp's ClientSession, kept as the bench baseline.
    if os.environ.get("SLUICE_UPSTREAM_CLIENT", "pool") == "aiohttp":
        return ClientSessionUpstream()
    return PoolUpstream()


def offline_services(config: Config) -> Services:
    """Services to compile a deployment against without serving it (``sluice routes``):
    embedded stores and the config's functions, nothing started, nothing to close."""
    upstream = PoolUpstream()
    return Services(upstream, Limiter(storage_from_url("memory://")),
                    Registry(registry_store_from_url("memory://")),
                    ResponseCache(cache_storage_from_url("memory://")),
                    functions=Functions(config.functions, upstream=upstream, aws=config.aws))


class Runtime:
    def __init__(self, config: Config, *, inflight: InFlight | None = None,
                 metrics: Metrics | None = None, limit_divisor: int = 1,
                 concurrency: SharedConcurrency | None = None,
                 authorizers: AuthorizerServices | None = None) -> None:
        """``concurrency``: the functions' reserved-concurrency slots shared by the workers of
        one machine (made by the parent before it forks them). ``authorizers``: their clocks
        and key sets (tests inject clocks)."""
        timeout_s = config.storage.timeout_ms / 1000
        self.config = config
        self.upstream = make_upstream()
        self.limiter = Limiter(storage_from_url(config.storage.url, timeout_s=timeout_s),
                               on_error=config.storage.on_error, timeout_s=timeout_s)
        self.registry = Registry(registry_store_from_url(config.storage.url))
        self.cache = ResponseCache(cache_storage_from_url(
            config.storage.url, timeout_s=timeout_s,
            near_bytes=config.storage.near_cache_mb * 2**20))
        self.metrics = metrics if metrics is not None else Metrics()
        self.inflight = inflight if inflight is not None else InFlight(
            config.account.max_concurrency)
        self.access_logs: dict[str, AccessLog] = {}
        function_metrics = FunctionMetrics(self.metrics)
        self.metrics.also_flush(function_metrics.flush)
        self.functions = Functions(config.functions, upstream=self.upstream, aws=config.aws,
                                   concurrency=concurrency, metrics=function_metrics)
        self.authorizers = authorizers if authorizers is not None else AuthorizerServices()
        # SLUICE_DISABLE_METRICS=1: no per-request metrics, only for bench's baseline of what
        # metrics cost (issue 5); /metrics then shows nothing about requests.
        observed = None if os.environ.get("SLUICE_DISABLE_METRICS") == "1" else self.metrics
        self.services = Services(self.upstream, self.limiter, self.registry, self.cache,
                                 observed, limit_divisor, self.functions, self.authorizers)
        self.gateway = Gateway(self.compile(config), inflight=self.inflight,
                               recorder=Recorder(observed, self.write_access_log))

    async def start(self) -> None:
        await self.registry.start(self.config.api_keys, self.config.usage_plans)

    def compile(self, config: Config) -> Deployment:
        return compile_deployment(config, self.services)

    async def reload(self, config: Config) -> None:
        if config.storage != self.config.storage:
            log.warning("storage settings changed: they take effect at the next restart")
        # functions first: the new deployment binds the functions of the new file (unchanged
        # ones keep their warm instances)
        await self.functions.reload(config.functions)
        deployment = self.compile(config)
        # keys and plans of the new file first, so no request sees a route without its plan
        await self.registry.seed(config.api_keys, config.usage_plans)
        self.gateway.swap(deployment)
        self.config = config

    def write_access_log(self, destination: str, line: str) -> None:
        writer = self.access_logs.get(destination)
        if writer is None:
            writer = self.access_logs[destination] = AccessLog(destination)
        writer.write(line)

    async def aclose(self) -> None:
        """Close everything, the last made first; a close that fails does not keep the
        others open (its error is raised once all have run)."""
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(self.upstream.aclose)
            stack.push_async_callback(self.functions.aclose)  # endpoint functions use upstream
            stack.push_async_callback(self.limiter.aclose)
            stack.push_async_callback(self.registry.aclose)
            stack.push_async_callback(self.cache.aclose)
            for writer in self.access_logs.values():
                stack.push_async_callback(writer.aclose)
