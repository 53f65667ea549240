"""The registry store shared through Redis (or Redis Cluster) by workers and instances.

Layout, all under one hash tag so a commit's keys share a cluster slot:

    {PREFIX}:keys      hash  key id  -> JSON KeyRecord
    {PREFIX}:plans     hash  plan id -> JSON PlanRecord
    {PREFIX}:version   int   bumped by every commit (in the same MULTI)
    {PREFIX}:changed   pub/sub channel; each commit publishes the new version

A commit WATCHes the version, reads the state, runs the pure ``mutate`` and writes in
MULTI/EXEC, retrying when another writer got in between: admin writes are rare, so optimistic
locking costs nothing and needs no script. Each store subscribes to the channel and reloads on a
message; it also reads the version every ``poll_interval`` seconds, so a message lost while the
connection was down delays a change by at most that much.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError, WatchError

from ratelimit.records import (
    KeyRecord,
    PlanRecord,
    RegistryState,
    RegistryUnavailable,
    apply_mutation,
    plan_stage,
)
from ratelimit.storage.registry.base import Listener, Mutate, RegistryStore

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "sluice:registry"
_MAX_COMMIT_ATTEMPTS = 50


def _key_to_json(k: KeyRecord) -> bytes:
    return orjson.dumps(
        {
            "id": k.id,
            "name": k.name,
            "value": k.value,
            "enabled": k.enabled,
            "createdDate": k.created_date,
            "lastUpdatedDate": k.last_updated_date,
            "description": k.description,
            "invalidateCache": k.invalidate_cache,
            "customerId": k.customer_id,
        }
    )


def _key_from_json(raw: bytes) -> KeyRecord:
    d = orjson.loads(raw)
    return KeyRecord(
        id=d["id"],
        name=d["name"],
        value=d["value"],
        enabled=d["enabled"],
        created_date=d["createdDate"],
        last_updated_date=d["lastUpdatedDate"],
        description=d.get("description"),
        invalidate_cache=d.get("invalidateCache", False),
        customer_id=d.get("customerId"),
    )


def _plan_to_json(p: PlanRecord) -> bytes:
    return orjson.dumps(
        {
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "apiStages": [
                {"apiId": s.api_id, "stage": s.stage, "throttle": dict(s.throttle)}
                for s in p.api_stages
            ],
            "throttle": p.throttle,
            "quota": p.quota,
            "keyIds": sorted(p.key_ids),
        }
    )


def _plan_from_json(raw: bytes) -> PlanRecord:
    d = orjson.loads(raw)
    throttle, quota = d.get("throttle"), d.get("quota")
    return PlanRecord(
        id=d["id"],
        name=d["name"],
        description=d.get("description"),
        api_stages=tuple(
            plan_stage(s["apiId"], s["stage"], {p: (t[0], t[1]) for p, t in s["throttle"].items()})
            for s in d["apiStages"]
        ),
        throttle=(throttle[0], throttle[1]) if throttle else None,
        quota=(quota[0], quota[1], quota[2]) if quota else None,
        key_ids=frozenset(d["keyIds"]),
    )


class RedisRegistryStore(RegistryStore):
    """Keys and plans in Redis, shared by every store using the same ``prefix``."""

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        prefix: str = DEFAULT_PREFIX,
        poll_interval: float = 1.0,
        owns_client: bool = False,
    ) -> None:
        tag = "{" + prefix + "}"
        self._keys, self._plans = f"{tag}:keys", f"{tag}:plans"
        self._version, self._channel = f"{tag}:version", f"{tag}:changed"
        self._client = client
        self._owns_client = owns_client
        self._poll = poll_interval
        self._listeners: list[Listener] = []
        self._seen = -1
        self._watcher: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        # This store's own channel, published to by ``aclose`` to wake its watcher at once.
        self._wake = f"{tag}:wake:{secrets.token_hex(8)}"

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRegistryStore:
        """``redis[s]://host:port/db`` or ``redis[s]+cluster://host:port``; the store owns
        the client it makes (admin writes are rare: a 2 s timeout, not the data plane's)."""
        client: Redis | RedisCluster
        for scheme in ("redis+cluster://", "rediss+cluster://"):
            if url.startswith(scheme):
                plain = scheme.replace("+cluster", "") + url[len(scheme) :]
                client = RedisCluster.from_url(
                    plain, socket_timeout=2.0, socket_connect_timeout=2.0
                )
                break
        else:
            client = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(client, owns_client=True, **kwargs)

    # --- reads and writes --------------------------------------------------------------

    @staticmethod
    def _state(version: Any, keys: Mapping[Any, Any], plans: Mapping[Any, Any]) -> RegistryState:
        return RegistryState(
            int(version or 0),
            MappingProxyType({k.decode(): _key_from_json(v) for k, v in keys.items()}),
            MappingProxyType({k.decode(): _plan_from_json(v) for k, v in plans.items()}),
        )

    async def load(self) -> RegistryState:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.get(self._version)
                pipe.hgetall(self._keys)
                pipe.hgetall(self._plans)
                version, keys, plans = await pipe.execute()
        except RedisError as exc:
            raise RegistryUnavailable(f"registry store unavailable: {exc}") from exc
        return self._state(version, keys, plans)

    async def commit(self, mutate: Mutate) -> RegistryState:
        try:
            state = await self._commit(mutate)
        except RedisError as exc:
            raise RegistryUnavailable(f"registry store unavailable: {exc}") from exc
        await self._publish(state.version)
        self._notify(state)
        return state

    async def _commit(self, mutate: Mutate) -> RegistryState:
        for _ in range(_MAX_COMMIT_ATTEMPTS):
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(self._version)
                    state = self._state(
                        await pipe.get(self._version),
                        await pipe.hgetall(self._keys),
                        await pipe.hgetall(self._plans),
                    )
                    mutation = mutate(state)  # a RegistryError here leaves Redis untouched
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if mutation.delete_keys:
                        pipe.hdel(self._keys, *mutation.delete_keys)
                    if mutation.put_keys:
                        pipe.hset(
                            self._keys, mapping={k.id: _key_to_json(k) for k in mutation.put_keys}
                        )
                    if mutation.put_plans:
                        pipe.hset(
                            self._plans,
                            mapping={p.id: _plan_to_json(p) for p in mutation.put_plans},
                        )
                    pipe.incr(self._version)
                    results = await pipe.execute()
                except WatchError:
                    continue
            new_state = apply_mutation(state, mutation)
            if int(results[-1]) != new_state.version:  # the counter was reset under us
                return await self.load()
            return new_state
        raise RegistryUnavailable("registry store: too many concurrent writers, try again")

    async def _publish(self, version: int) -> None:
        # Outside the MULTI: Redis Cluster refuses a keyless command in a slot transaction.
        # A lost publish only delays other instances until their next version poll.
        try:
            await self._client.publish(self._channel, str(version))
        except RedisError as exc:
            log.warning("registry: publishing version %d failed: %s", version, exc)

    # --- following other writers -------------------------------------------------------

    def _notify(self, state: RegistryState) -> None:
        if state.version == self._seen:
            return
        self._seen = state.version
        for listener in tuple(self._listeners):
            listener(state)

    async def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="registry-watch")

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def _refresh(self) -> None:
        version = int(await self._client.get(self._version) or 0)
        if version != self._seen:
            self._notify(await self.load())

    async def _watch(self) -> None:
        pubsub = None
        try:
            while not self._closing.is_set():
                try:
                    if pubsub is None:
                        # A command first: a cluster client learns its slot map on the first
                        # one, and its pubsub needs that map to pick a node.
                        await self._refresh()
                        pubsub = self._client.pubsub()
                        await pubsub.subscribe(self._channel, self._wake)
                        await self._refresh()  # what was committed while we were not listening
                    # A message or the poll interval, whichever comes first; either way the
                    # version decides whether to reload, so duplicate or lost messages do no harm.
                    await pubsub.get_message(ignore_subscribe_messages=True, timeout=self._poll)
                    if not self._closing.is_set():
                        await self._refresh()
                except Exception as exc:  # the watcher must outlive any one failure
                    log.warning("registry watch: %r; retrying in %.1fs", exc, self._poll)
                    if pubsub is not None:
                        with contextlib.suppress(RedisError, OSError):
                            await pubsub.aclose()  # type: ignore[no-untyped-call]
                        pubsub = None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), self._poll)
        finally:
            if pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        self._listeners.clear()
        if self._watcher is not None:
            # Not Task.cancel(): on Python 3.11 a cancel that lands as redis-py's read timeout
            # fires is swallowed by asyncio.timeout and the task reads forever. The watcher
            # stops itself instead, woken through its own channel.
            self._closing.set()
            with contextlib.suppress(RedisError, OSError):
                await self._client.publish(self._wake, b"")
            done, _ = await asyncio.wait({self._watcher}, timeout=self._poll + 1.0)
            if not done:
                self._watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watcher
            self._watcher = None
        if self._owns_client:
            await self._client.aclose()
