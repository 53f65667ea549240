"""The shared store: Redis or Redis Cluster, one EVALSHA per batch of decisions.

All limiter keys carry one hash tag, ``sluice:{rl}:``. A batch mixes the account bucket with
many stage and plan buckets, and an atomic script may only touch keys of one slot, so one tag
is the price of deciding a whole batch in one call. The trade-off: in a cluster, one master
holds every limiter key and carries all limiter traffic; the other masters serve the cache and
the API-key registry. One master runs the batched script far beyond one gateway machine's
request rate (a batch of 64 decisions costs about as much as a few single ones), and spreading
the buckets over slots would cost one round trip per slot per batch instead.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from ratelimit.quota import Quota, day_number, owner, period_bounds, quota_key, usage_key_for_date
from ratelimit.storage.base import LimitStorage, Outcome, Request, StorageError

PREFIX = "sluice:{rl}:"
_SCRIPT = resources.files("ratelimit").joinpath("lua/decide.lua").read_bytes()
_SHA = hashlib.sha1(_SCRIPT).hexdigest()


@contextmanager
def _translated() -> Iterator[None]:
    """Redis and socket errors enter the limiter as ``StorageError``."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StorageError(f"rate-limit store failed: {exc!r}") from exc


def _client(url: str, timeout_s: float) -> Redis | RedisCluster:
    # Retries are the limiter's business (it probes a failed store every 0.5 s); a client that
    # retried on its own would hold a request past its timeout.
    opts: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }
    scheme, sep, rest = url.partition("+cluster://")
    if sep:
        return RedisCluster.from_url(f"{scheme}://{rest}", **opts)
    return Redis.from_url(url, **opts)


class RedisStorage(LimitStorage):
    """Limits shared by every worker and machine using the same Redis or Redis Cluster."""

    __slots__ = ("_client",)

    def __init__(self, client: Redis | RedisCluster) -> None:
        self._client = client

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 0.25) -> RedisStorage:
        return cls(_client(url, timeout_s))

    @staticmethod
    def _encode(batch: Sequence[Request]) -> bytes:
        # The layout is decide.lua's ARGV[1]: fields each ended by \x1f.
        parts: list[str] = [str(len(batch))]
        for buckets, quota in batch:
            parts.append(str(len(buckets)))
            for b in buckets:
                parts += (b.key, repr(b.rate), str(b.burst))
            if quota is None:
                parts.append("0")
            else:
                parts += ("1", owner(quota.plan_id, quota.key_id), str(quota.limit), quota.period)
        parts.append("")
        return "\x1f".join(parts).encode()

    async def decide(self, batch: Sequence[Request]) -> list[Outcome]:
        blob = self._encode(batch)
        with _translated():
            try:
                flat = await self._client.evalsha(_SHA, 1, PREFIX, blob)
            except NoScriptError:
                # A restarted or flushed server forgot the script: load it (on every master of
                # a cluster) and retry once.
                await self._client.script_load(_SCRIPT)
                flat = await self._client.evalsha(_SHA, 1, PREFIX, blob)
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def _now(self) -> float:
        sec, usec = await self._client.time()
        return float(sec) + usec / 1e6

    async def quota_used(self, quota: Quota) -> int:
        # Not on the request path: two round trips, period taken from the server's TIME as the
        # script does.
        with _translated():
            start, _ = period_bounds(quota.period, day_number(await self._now()))
            key = quota_key(owner(quota.plan_id, quota.key_id), quota.period, start)
            return int(await self._client.get(PREFIX + key) or 0)

    async def daily_usage(
        self, plan_id: str, key_id: str, days: Sequence[datetime.date]
    ) -> list[int]:
        if not days:
            return []
        who = owner(plan_id, key_id)
        with _translated():
            values = await self._client.mget([PREFIX + usage_key_for_date(who, d) for d in days])
        return [int(v or 0) for v in values]

    async def aclose(self) -> None:
        await self._client.aclose()
