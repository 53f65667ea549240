"""Rate limiting for Sluice: token buckets at the usage-plan, stage and account levels, usage-plan
quotas, and the in-flight limit, decided atomically on a memory or Redis store.

Never imports ``proxy``; ``redis`` is imported only under ``ratelimit.storage``.
"""

from __future__ import annotations

from ratelimit.buckets import Bucket, account_bucket, plan_bucket, stage_bucket
from ratelimit.clock import Clock, ManualClock, SystemClock
from ratelimit.inflight import InFlight
from ratelimit.limiter import Decision, Limiter
from ratelimit.quota import Quota, period_bounds
from ratelimit.records import (
    BadRequest,
    Conflict,
    KeyRecord,
    NotFound,
    PlanRecord,
    PlanStage,
    RegistryError,
    RegistryUnavailable,
    plan_stage,
)
from ratelimit.registry import Registry
from ratelimit.storage import LimitStorage, MemoryStorage, StorageError, storage_from_url
from ratelimit.storage.registry import RegistryStore, registry_store_from_url

__all__ = [
    "BadRequest",
    "Bucket",
    "Clock",
    "Conflict",
    "Decision",
    "InFlight",
    "KeyRecord",
    "LimitStorage",
    "Limiter",
    "ManualClock",
    "MemoryStorage",
    "NotFound",
    "PlanRecord",
    "PlanStage",
    "Quota",
    "Registry",
    "RegistryError",
    "RegistryStore",
    "RegistryUnavailable",
    "StorageError",
    "SystemClock",
    "account_bucket",
    "period_bounds",
    "plan_bucket",
    "plan_stage",
    "registry_store_from_url",
    "stage_bucket",
    "storage_from_url",
]
