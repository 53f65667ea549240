"""``Functions``: every configured function, by name, owned by the gateway's ``Runtime``.

``Runtime.__init__`` builds it from ``config.functions`` with the runtime's upstream and the
config's ``aws`` settings; nothing starts before a function's first call (instances start on
demand). ``Runtime.reload`` calls ``reload(config.functions)`` on SIGHUP and ``Runtime.aclose``
calls ``aclose()``, which stops every instance. With ``server.workers > 1`` the parent builds
``SharedConcurrency(config.functions)`` before forking and each worker passes it here, so
``reservedConcurrency`` holds for the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from proxy.config.model import AwsSettings, FunctionConfig
from proxy.functions.base import Function
from proxy.functions.concurrency import SharedConcurrency, Slots
from proxy.functions.endpoint import EndpointFunction
from proxy.functions.local import LocalFunction
from proxy.functions.metrics import FunctionMetrics
from proxy.upstream.base import Upstream

__all__ = ["DEFAULT_IDLE_TIMEOUT_S", "Functions"]

# How long a warm instance waits for its next invocation before it stops (Lambda keeps idle
# environments for minutes; it does not say how long).
DEFAULT_IDLE_TIMEOUT_S = 300.0


class Functions:
    def __init__(self, configs: Mapping[str, FunctionConfig], *, upstream: Upstream,
                 aws: AwsSettings, concurrency: SharedConcurrency | None = None,
                 metrics: FunctionMetrics | None = None,
                 idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
        """``aws``: the config's region and account, in each function's ARN and environment
        (the config decides them: ``aws:``, else AWS_REGION, else its defaults)."""
        self._upstream = upstream
        self._aws = aws
        self._concurrency = concurrency
        self._metrics = metrics
        self._idle_timeout_s = idle_timeout_s
        self._retiring: dict[asyncio.Task[None], Function] = {}
        self._functions: dict[str, Function] = {
            name: self._build(config) for name, config in configs.items()}

    def _build(self, config: FunctionConfig) -> Function:
        if config.endpoint is not None:
            return EndpointFunction(config, self._upstream)
        limit = config.reserved_concurrency
        slots = self._concurrency.slots(config.name, limit) if self._concurrency is not None \
            else Slots(limit)
        return LocalFunction(config, slots=slots, aws=self._aws,
                             idle_timeout_s=self._idle_timeout_s, metrics=self._metrics)

    def get(self, name: str) -> Function | None:
        return self._functions.get(name)

    def describe(self) -> list[tuple[str, str]]:
        """``(name, how it runs)`` per function, for ``sluice routes``."""
        return [(name, fn.describe()) for name, fn in sorted(self._functions.items())]

    async def reload(self, configs: Mapping[str, FunctionConfig]) -> None:
        """Keep the functions whose config is unchanged (and their warm instances); stop the
        others once their calls in flight are answered."""
        old = self._functions
        new: dict[str, Function] = {}
        for name, config in configs.items():
            kept = old.get(name)
            new[name] = kept if kept is not None and kept.config == config else \
                self._build(config)
        self._functions = new
        for name, fn in old.items():
            if new.get(name) is not fn:
                # in the background: a reload must not wait for a 900 s function to finish
                task = asyncio.get_running_loop().create_task(
                    fn.aclose(grace_s=fn.config.timeout_s))
                self._retiring[task] = fn
                task.add_done_callback(self._retiring.pop)

    async def aclose(self) -> None:
        functions = list(self._functions.values())
        self._functions = {}
        for fn in functions:
            await fn.aclose()
        for task, fn in tuple(self._retiring.items()):
            await fn.aclose()  # no more grace: stops what it still runs
            await task
