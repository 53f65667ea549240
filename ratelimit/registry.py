"""API keys and usage plans: the live view the data plane reads, and the rules for changing it.

A ``Registry`` holds an immutable snapshot (``RegistryState``) in memory, indexed for the two
lookups a request makes (``authenticate``, ``plan_for``), both synchronous and free of I/O.
Changes go through a ``RegistryStore`` (``ratelimit.storage.registry``: memory for one process,
Redis for workers and instances sharing it): the store runs a pure
``mutate(state) -> Mutation`` function against its current state atomically, bumps a version
and tells every subscribed Registry, which swaps in the new snapshot.

Errors carry the AWS control-plane error type (``NotFoundException``, ``BadRequestException``,
``ConflictException``) so the admin API maps them in one place. Key values are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Protocol

from ratelimit.clock import Clock, SystemClock
from ratelimit.quota import is_period
from ratelimit.records import (
    BadRequest,
    Conflict,
    KeyRecord,
    Mutation,
    NotFound,
    PlanQuota,
    PlanRecord,
    PlanStage,
    Quota,
    RegistryState,
    Throttle,
    plan_stage,
)
from ratelimit.storage.registry.base import Mutate, RegistryStore

log = logging.getLogger(__name__)

MIN_VALUE_LEN = 20
MAX_VALUE_LEN = 128
MAX_NAME_LEN = 1024
_ID_ALPHABET = string.ascii_lowercase + string.digits
_VALUE_ALPHABET = string.ascii_letters + string.digits
KEY_ID_LEN = 10
PLAN_ID_LEN = 6
GENERATED_VALUE_LEN = 40


class _SeedThrottle(Protocol):
    @property
    def rate_limit(self) -> float: ...
    @property
    def burst_limit(self) -> int: ...


class _SeedQuota(Protocol):
    @property
    def limit(self) -> int: ...
    @property
    def period(self) -> str: ...
    @property
    def offset(self) -> int: ...


class _SeedStage(Protocol):
    @property
    def api_id(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def throttle(self) -> Mapping[str, _SeedThrottle]: ...


class SeedKey(Protocol):
    """What seeding reads from ``proxy.config.model.ApiKey`` (ratelimit never imports proxy)."""

    @property
    def id(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def invalidate_cache(self) -> bool: ...
    @property
    def description(self) -> str | None: ...


class SeedPlan(Protocol):
    """What seeding reads from ``proxy.config.model.UsagePlan``."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def api_stages(self) -> Sequence[_SeedStage]: ...
    @property
    def throttle(self) -> _SeedThrottle | None: ...
    @property
    def quota(self) -> _SeedQuota | None: ...
    @property
    def api_keys(self) -> Sequence[str]: ...


# --- the registry ------------------------------------------------------------------------


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _now(clock: Clock) -> int:
    return int(clock())


def new_key_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_LEN))


def new_plan_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(PLAN_ID_LEN))


def new_key_value() -> str:
    return "".join(secrets.choice(_VALUE_ALPHABET) for _ in range(GENERATED_VALUE_LEN))


class Registry:
    """The live view of keys and plans that the data plane reads on every request, in
    memory, backed by a ``RegistryStore`` shared by all workers and instances.

    The Registry owns its store: ``aclose`` closes it.
    """

    __slots__ = ("_by_digest", "_clock", "_plan_index", "_started", "_state", "_store")

    def __init__(self, store: RegistryStore, *, clock: Clock | None = None) -> None:
        self._store = store
        self._clock: Clock = clock or SystemClock()
        self._state = RegistryState(version=-1)
        # sha256(value) -> (value bytes, record): a dict probe on a fixed-size digest, then one
        # constant-time compare, so lookup time does not depend on how much of a guess matches.
        self._by_digest: dict[bytes, tuple[bytes, KeyRecord]] = {}
        self._plan_index: dict[tuple[str, str, str], PlanRecord] = {}
        self._started = False

    @property
    def version(self) -> int:
        return self._state.version

    async def start(
        self, seed_keys: Sequence[SeedKey] = (), seed_plans: Sequence[SeedPlan] = ()
    ) -> None:
        """Upsert the config file's keys and plans (``proxy.config.model.ApiKey`` and
        ``UsagePlan``) into the store, load the snapshot and follow later changes."""
        await self._store.subscribe(self._install)
        self._started = True
        await self.seed(seed_keys, seed_plans)
        self._install(await self._store.load())

    async def seed(self, keys: Sequence[SeedKey], plans: Sequence[SeedPlan]) -> None:
        """Upsert config keys and plans: the file's fields win; a seeded plan keeps the keys
        added to it at run time (so one instance restarting never drops another's changes)."""
        if not keys and not plans:
            return
        now = _now(self._clock)
        self._install(await self._store.commit(lambda s: _seed(s, keys, plans, now)))
        log.info("registry seeded: %d keys, %d usage plans", len(keys), len(plans))

    async def aclose(self) -> None:
        if self._started:
            self._store.unsubscribe(self._install)
            self._started = False
        await self._store.aclose()

    def _install(self, state: RegistryState) -> None:
        if state.version <= self._state.version:
            return
        by_digest = {_digest(k.value): (k.value.encode(), k) for k in state.keys.values()}
        index: dict[tuple[str, str, str], PlanRecord] = {}
        for plan in state.plans.values():
            for key_id in plan.key_ids:
                for s in plan.api_stages:
                    index[(key_id, s.api_id, s.stage)] = plan
        self._state, self._by_digest, self._plan_index = state, by_digest, index

    # --- the data plane: synchronous, no I/O --------------------------------------------

    def authenticate(self, value: str | None) -> KeyRecord | None:
        """The key whose value is ``value`` (disabled keys too: the caller checks
        ``enabled``), or None."""
        if not value:
            return None
        raw = value.encode()
        hit = self._by_digest.get(hashlib.sha256(raw).digest())
        if hit is None or not hmac.compare_digest(hit[0], raw):
            return None
        return hit[1]

    def plan_for(self, key_id: str, api_id: str, stage: str) -> PlanRecord | None:
        """The usage plan that puts ``key_id`` on ``api_id``/``stage`` (at most one)."""
        return self._plan_index.get((key_id, api_id, stage))

    # --- admin operations ---------------------------------------------------------------

    async def _commit(self, mutate: Mutate) -> RegistryState:
        state = await self._store.commit(mutate)
        self._install(state)
        return state

    async def create_key(
        self,
        name: str = "",
        value: str | None = None,
        *,
        enabled: bool = True,
        description: str | None = None,
        customer_id: str | None = None,
        invalidate_cache: bool = False,
    ) -> KeyRecord:
        """A new key; id and value are generated when absent (value: 20..128 characters)."""
        _check_name(name)
        if value is None:
            value = new_key_value()
        _check_value(value)
        now = _now(self._clock)
        record = KeyRecord(
            id=new_key_id(),
            name=name,
            value=value,
            enabled=enabled,
            created_date=now,
            last_updated_date=now,
            description=description,
            invalidate_cache=invalidate_cache,
            customer_id=customer_id,
        )

        def mutate(state: RegistryState) -> Mutation:
            if record.id in state.keys:
                raise Conflict("API Key id collision, retry")
            _check_value_unique(state, record)
            return Mutation(put_keys=(record,))

        await self._commit(mutate)
        log.info("api key created: id=%s", record.id)
        return record

    async def update_key(
        self, key_id: str, patch_operations: Sequence[Mapping[str, Any]]
    ) -> KeyRecord:
        """Apply AWS patch operations: ``replace`` on ``/enabled``, ``/name``,
        ``/description`` or ``/customerId``."""
        now = _now(self._clock)

        def mutate(state: RegistryState) -> Mutation:
            current = _key(state, key_id)
            return Mutation(put_keys=(_patch_key(current, patch_operations, now),))

        state = await self._commit(mutate)
        log.info("api key updated: id=%s", key_id)
        return state.keys[key_id]

    async def delete_key(self, key_id: str) -> None:
        """Delete a key and its usage-plan memberships."""

        def mutate(state: RegistryState) -> Mutation:
            _key(state, key_id)
            plans = tuple(
                replace(p, key_ids=p.key_ids - {key_id})
                for p in state.plans.values()
                if key_id in p.key_ids
            )
            return Mutation(delete_keys=(key_id,), put_plans=plans)

        await self._commit(mutate)
        log.info("api key deleted: id=%s", key_id)

    async def get_key(self, key_id: str) -> KeyRecord:
        return _key(self._state, key_id)

    async def list_keys(
        self, *, name_query: str | None = None, customer_id: str | None = None
    ) -> list[KeyRecord]:
        """Keys in id order; ``name_query`` matches a name prefix, as AWS does."""
        return [
            k
            for _, k in sorted(self._state.keys.items())
            if (name_query is None or k.name.startswith(name_query))
            and (customer_id is None or k.customer_id == customer_id)
        ]

    async def create_plan(
        self,
        name: str,
        *,
        description: str | None = None,
        api_stages: Iterable[PlanStage] = (),
        throttle: Throttle | None = None,
        quota: Quota | None = None,
    ) -> PlanRecord:
        record = _build_plan(new_plan_id(), name, description, api_stages, throttle, quota)

        def mutate(state: RegistryState) -> Mutation:
            if record.id in state.plans:
                raise Conflict("Usage Plan id collision, retry")
            return Mutation(put_plans=(record,))

        await self._commit(mutate)
        log.info("usage plan created: id=%s", record.id)
        return record

    async def get_plan(self, plan_id: str) -> PlanRecord:
        return _plan(self._state, plan_id)

    async def list_plans(self, *, key_id: str | None = None) -> list[PlanRecord]:
        """Plans in id order; with ``key_id``, only those the key belongs to."""
        return [
            p for _, p in sorted(self._state.plans.items()) if key_id is None or key_id in p.key_ids
        ]

    async def add_plan_key(self, plan_id: str, key_id: str) -> KeyRecord:
        """Put a key in a plan; ``Conflict`` when it is already in a plan for one of the
        plan's API stages (AWS: one plan per key per API stage)."""

        def mutate(state: RegistryState) -> Mutation:
            plan = _plan(state, plan_id)
            _key(state, key_id)
            if key_id in plan.key_ids:
                raise Conflict(f"API Key {key_id} is already in Usage Plan {plan_id}")
            _check_one_plan_per_stage(state.plans.values(), plan, key_id)
            return Mutation(put_plans=(replace(plan, key_ids=plan.key_ids | {key_id}),))

        state = await self._commit(mutate)
        log.info("usage plan key added: plan=%s key=%s", plan_id, key_id)
        return state.keys[key_id]

    async def remove_plan_key(self, plan_id: str, key_id: str) -> None:
        def mutate(state: RegistryState) -> Mutation:
            plan = _plan(state, plan_id)
            if key_id not in plan.key_ids:
                raise NotFound(f"Invalid Usage Plan Key identifier specified: {key_id}")
            return Mutation(put_plans=(replace(plan, key_ids=plan.key_ids - {key_id}),))

        await self._commit(mutate)
        log.info("usage plan key removed: plan=%s key=%s", plan_id, key_id)

    async def list_plan_keys(self, plan_id: str) -> list[KeyRecord]:
        state = self._state
        plan = _plan(state, plan_id)
        return [state.keys[k] for k in sorted(plan.key_ids) if k in state.keys]


# --- pure rules --------------------------------------------------------------------------


def _key(state: RegistryState, key_id: str) -> KeyRecord:
    record = state.keys.get(key_id)
    if record is None:
        raise NotFound(f"Invalid API Key identifier specified: {key_id}")
    return record


def _plan(state: RegistryState, plan_id: str) -> PlanRecord:
    record = state.plans.get(plan_id)
    if record is None:
        raise NotFound(f"Invalid Usage Plan ID specified: {plan_id}")
    return record


def _check_name(name: str) -> None:
    if len(name) > MAX_NAME_LEN:
        raise BadRequest(f"API Key name must be at most {MAX_NAME_LEN} characters")


def _check_value(value: str) -> None:
    # Visible ASCII only: the value travels in an HTTP header, where spaces would be trimmed.
    if not MIN_VALUE_LEN <= len(value) <= MAX_VALUE_LEN or not all("!" <= c <= "~" for c in value):
        raise BadRequest(
            f"API Key value must be {MIN_VALUE_LEN} to {MAX_VALUE_LEN} visible ASCII characters"
        )


def _check_value_unique(state: RegistryState, record: KeyRecord) -> None:
    for other in state.keys.values():
        if other.id != record.id and hmac.compare_digest(other.value, record.value):
            raise Conflict("API Key value already exists")


def _check_one_plan_per_stage(plans: Iterable[PlanRecord], plan: PlanRecord, key_id: str) -> None:
    stages = {(s.api_id, s.stage) for s in plan.api_stages}
    for other in plans:
        if other.id == plan.id or key_id not in other.key_ids:
            continue
        shared = stages & {(s.api_id, s.stage) for s in other.api_stages}
        if shared:
            api_id, stage = min(shared)
            raise Conflict(
                f"Usage Plan {plan.id} cannot be added because API Key {key_id} cannot "
                f"reference multiple Usage Plans with the same API Stage: {api_id}:{stage}"
            )


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise BadRequest(f"Invalid boolean value: {value!r}")


def _patch_key(current: KeyRecord, ops: Sequence[Mapping[str, Any]], now: int) -> KeyRecord:
    if not ops:
        raise BadRequest("patchOperations must not be empty")
    record = current
    for op in ops:
        if not isinstance(op, Mapping) or op.get("op") != "replace":
            raise BadRequest("Only the 'replace' patch operation is supported on API Keys")
        path, value = op.get("path"), op.get("value")
        if path == "/enabled":
            record = replace(record, enabled=_parse_bool(value))
        elif path == "/name":
            name = "" if value is None else str(value)
            _check_name(name)
            record = replace(record, name=name)
        elif path == "/description":
            record = replace(record, description=None if value is None else str(value))
        elif path == "/customerId":
            record = replace(record, customer_id=None if value is None else str(value))
        else:
            raise BadRequest(
                f"Invalid patch path {path!r}: allowed /enabled, /name, /description, /customerId"
            )
    return replace(record, last_updated_date=now)


def _check_throttle(throttle: Throttle, where: str) -> Throttle:
    rate, burst = throttle
    if rate < 0 or burst < 0 or int(burst) != burst:
        raise BadRequest(f"{where}: rateLimit must be >= 0 and burstLimit an integer >= 0")
    return (float(rate), int(burst))


def _build_plan(
    plan_id: str,
    name: str,
    description: str | None,
    api_stages: Iterable[PlanStage],
    throttle: Throttle | None,
    quota: Quota | None,
    key_ids: frozenset[str] = frozenset(),
) -> PlanRecord:
    if not name:
        raise BadRequest("Usage Plan name is required")
    stages: list[PlanStage] = []
    seen: set[tuple[str, str]] = set()
    for s in api_stages:
        if (s.api_id, s.stage) in seen:
            raise BadRequest(f"API stage {s.api_id}:{s.stage} is listed twice")
        seen.add((s.api_id, s.stage))
        limits = {
            path: _check_throttle(t, f"apiStages {s.api_id}:{s.stage} throttle {path}")
            for path, t in s.throttle.items()
        }
        stages.append(PlanStage(s.api_id, s.stage, MappingProxyType(limits)))
    if throttle is not None:
        throttle = _check_throttle(throttle, "throttle")
    checked: PlanQuota | None = None
    if quota is not None:
        limit, period, offset = quota
        if limit < 0 or int(limit) != limit or not is_period(period) or offset < 0:
            raise BadRequest(
                "quota: limit must be an integer >= 0, period DAY | WEEK | MONTH, offset >= 0"
            )
        checked = (int(limit), period, int(offset))
    return PlanRecord(plan_id, name, description, tuple(stages), throttle, checked, key_ids)


def _seed(
    state: RegistryState, keys: Sequence[SeedKey], plans: Sequence[SeedPlan], now: int
) -> Mutation:
    put_keys: dict[str, KeyRecord] = {}
    for k in keys:
        old = state.keys.get(k.id)
        _check_value(k.value)
        record = KeyRecord(
            id=k.id,
            name=k.name,
            value=k.value,
            enabled=k.enabled,
            created_date=old.created_date if old else now,
            last_updated_date=now,
            description=k.description,
            invalidate_cache=k.invalidate_cache,
            customer_id=old.customer_id if old else None,
        )
        if old is not None and _same_key(old, record):
            record = old  # nothing changed: keep the dates, write nothing new
        put_keys[k.id] = record
    merged_keys = {**state.keys, **put_keys}
    seen_values: dict[bytes, str] = {}
    for k in merged_keys.values():
        other = seen_values.setdefault(_digest(k.value), k.id)
        if other != k.id:
            raise Conflict(f"API Keys {other} and {k.id} have the same value")

    put_plans: dict[str, PlanRecord] = {}
    for p in plans:
        old_plan = state.plans.get(p.id)
        missing = [kid for kid in p.api_keys if kid not in merged_keys]
        if missing:
            raise NotFound(f"Usage Plan {p.id} names unknown API Keys: {', '.join(missing)}")
        stages = [
            plan_stage(
                s.api_id,
                s.stage,
                {path: (t.rate_limit, t.burst_limit) for path, t in s.throttle.items()},
            )
            for s in p.api_stages
        ]
        throttle = (p.throttle.rate_limit, p.throttle.burst_limit) if p.throttle else None
        quota = (p.quota.limit, p.quota.period, p.quota.offset) if p.quota else None
        key_ids = frozenset(p.api_keys) | (old_plan.key_ids if old_plan else frozenset())
        put_plans[p.id] = _build_plan(
            p.id, p.name or p.id, p.description, stages, throttle, quota, key_ids
        )
    merged_plans = {**state.plans, **put_plans}
    for plan in put_plans.values():
        for key_id in plan.key_ids:
            _check_one_plan_per_stage(merged_plans.values(), plan, key_id)
    return Mutation(put_keys=tuple(put_keys.values()), put_plans=tuple(put_plans.values()))


def _same_key(a: KeyRecord, b: KeyRecord) -> bool:
    return replace(a, last_updated_date=0) == replace(b, last_updated_date=0)
