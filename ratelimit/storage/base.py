"""The interface every rate-limit store implements, and the store's one exception.

A store decides a *batch* of requests at once. Each request is its buckets (in the order the
caller wants them checked) and an optional quota; each is decided all-or-nothing, in batch
order, as if alone. The outcome of one request is ``(code, quota_remaining)``: code ``ADMITTED``,
``QUOTA_REFUSED``, or ``i >= 1`` for "bucket i (1-based) was empty"; ``quota_remaining`` is
``NO_QUOTA`` when the request had no quota.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Sequence

from ratelimit.buckets import Bucket
from ratelimit.quota import Quota

ADMITTED = 0
QUOTA_REFUSED = -1
NO_QUOTA = -1

Request = tuple[Sequence[Bucket], Quota | None]
Outcome = tuple[int, int]


class StorageError(Exception):
    """The store did not answer in time or failed; raised only where no fallback applies."""


class LimitStorage(abc.ABC):
    """Atomic check-and-consume of token buckets and quotas."""

    @abc.abstractmethod
    async def decide(self, batch: Sequence[Request]) -> list[Outcome]:
        """Decide every request of ``batch`` in one atomic operation."""

    @abc.abstractmethod
    async def quota_used(self, quota: Quota) -> int:
        """Requests counted by ``quota`` in its current period."""

    @abc.abstractmethod
    async def daily_usage(
        self, plan_id: str, key_id: str, days: Sequence[datetime.date]
    ) -> list[int]:
        """Requests admitted under a plan's quota on each UTC day (0 when none)."""

    async def aclose(self) -> None:  # noqa: B027  (stores without resources need nothing)
        """Release connections."""
