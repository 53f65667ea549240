"""Rate limiting for Sluice: token buckets at the usage-plan, stage and account levels, usage-plan
quotas, and the in-flight limit, decided atomically on a memory or Redis store.

Never imports ``proxy``; ``redis`` is imported only under ``ratelimit.storage``.
"""

from __future__ import annotations

from ratelimit.buckets import Bucket, account_bucket, plan_bucket, stage_bucket
from ratelimit.clock import Clock, ManualClock, SystemClock
from ratelimit.inflight import InFlight
from ratelimit.limiter import Decision, Limiter
from ratelimit.quota import Quota
from ratelimit.storage import LimitStorage, MemoryStorage, StorageError, storage_from_url

__all__ = [
    "Bucket",
    "Clock",
    "Decision",
    "InFlight",
    "LimitStorage",
    "Limiter",
    "ManualClock",
    "MemoryStorage",
    "Quota",
    "StorageError",
    "SystemClock",
    "account_bucket",
    "plan_bucket",
    "stage_bucket",
    "storage_from_url",
]
