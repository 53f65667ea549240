"""The registry's shared types: its records, the state snapshot a store holds, the mutation a
commit writes, and its errors.

A leaf module (of ``ratelimit`` it imports only the quota period type): the ``Registry``
(``ratelimit.registry``) and the stores that keep its state (``ratelimit.storage.registry``)
both import it, and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from ratelimit.quota import QuotaPeriod

Throttle = tuple[float, int]  # (rateLimit, burstLimit)
Quota = tuple[int, str, int]  # (limit, period, offset): as given; checked when a plan is built
PlanQuota = tuple[int, QuotaPeriod, int]  # a plan's quota, checked


# --- errors ------------------------------------------------------------------------------


class RegistryError(Exception):
    """A rejected registry operation; ``error_type`` is the AWS exception name."""

    error_type = "BadRequestException"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BadRequest(RegistryError):
    error_type = "BadRequestException"


class NotFound(RegistryError):
    error_type = "NotFoundException"


class Conflict(RegistryError):
    error_type = "ConflictException"


class RegistryUnavailable(RegistryError):
    """The store did not answer; raised by stores, translated from their client's errors."""

    error_type = "ServiceUnavailableException"


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    value: str
    enabled: bool
    created_date: int  # epoch seconds
    last_updated_date: int
    description: str | None = None
    invalidate_cache: bool = False
    customer_id: str | None = None


class PlanStage(NamedTuple):
    api_id: str
    stage: str
    # "/{resourcePath}/{METHOD}" -> (rateLimit, burstLimit)
    throttle: Mapping[str, Throttle]


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: str
    name: str
    description: str | None = None
    api_stages: tuple[PlanStage, ...] = ()
    throttle: Throttle | None = None
    quota: PlanQuota | None = None
    key_ids: frozenset[str] = frozenset()

    def covers(self, api_id: str, stage: str) -> bool:
        return any(s.api_id == api_id and s.stage == stage for s in self.api_stages)


_EMPTY_KEYS: Mapping[str, KeyRecord] = MappingProxyType({})
_EMPTY_PLANS: Mapping[str, PlanRecord] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RegistryState:
    """Everything the store holds, at one version (bumped by every commit)."""

    version: int = 0
    keys: Mapping[str, KeyRecord] = field(default_factory=lambda: _EMPTY_KEYS)
    plans: Mapping[str, PlanRecord] = field(default_factory=lambda: _EMPTY_PLANS)


@dataclass(frozen=True, slots=True)
class Mutation:
    """What one commit writes: records to put (by id) and key ids to delete."""

    put_keys: tuple[KeyRecord, ...] = ()
    delete_keys: tuple[str, ...] = ()
    put_plans: tuple[PlanRecord, ...] = ()


def apply_mutation(state: RegistryState, mutation: Mutation) -> RegistryState:
    """The state after ``mutation``, at the next version (pure; both stores use it)."""
    keys = dict(state.keys)
    for key_id in mutation.delete_keys:
        keys.pop(key_id, None)
    keys.update((k.id, k) for k in mutation.put_keys)
    plans = dict(state.plans)
    plans.update((p.id, p) for p in mutation.put_plans)
    return RegistryState(state.version + 1, MappingProxyType(keys), MappingProxyType(plans))


def plan_stage(
    api_id: str, stage: str, throttle: Mapping[str, Throttle] | None = None
) -> PlanStage:
    """A ``PlanStage`` with a read-only throttle map."""
    return PlanStage(api_id, stage, MappingProxyType(dict(throttle or {})))
