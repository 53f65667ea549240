"""A method's effective cache settings, resolved once per deployment."""

from __future__ import annotations

from dataclasses import dataclass

from cache.policy import STRATEGIES, CacheControlStrategy

DEFAULT_TTL_S = 300
MAX_TTL_S = 3600
DEFAULT_STRATEGY: CacheControlStrategy = "SUCCEED_WITH_RESPONSE_HEADER"


@dataclass(frozen=True, slots=True)
class CacheSettings:
    enabled: bool
    ttl_s: int
    require_authorization: bool
    unauthorized_strategy: CacheControlStrategy

    def __post_init__(self) -> None:
        if not 0 <= self.ttl_s <= MAX_TTL_S:
            raise ValueError(f"cacheTtlInSeconds must be 0..{MAX_TTL_S}, got {self.ttl_s}")
        if self.unauthorized_strategy not in STRATEGIES:
            raise ValueError(
                f"unauthorizedCacheControlHeaderStrategy must be one of {', '.join(STRATEGIES)}, "
                f"got {self.unauthorized_strategy!r}"
            )


def method_cache_settings(
    *,
    cache_cluster_enabled: bool,
    http_method: str,
    caching_enabled: bool | None,
    ttl: int | None,
    require_authorization: bool | None,
    strategy: CacheControlStrategy | None,
) -> CacheSettings:
    """Apply AWS's defaults: only a stage with ``cacheClusterEnabled`` caches; there GET is on
    unless ``cachingEnabled`` is false, other methods only with ``cachingEnabled`` true; the TTL
    defaults to 300 s and 0 turns caching off. ``ValueError`` says what is allowed."""
    ttl_s = DEFAULT_TTL_S if ttl is None else ttl
    on = http_method.upper() == "GET" if caching_enabled is None else caching_enabled
    return CacheSettings(
        enabled=cache_cluster_enabled and on and ttl_s > 0,
        ttl_s=ttl_s,
        require_authorization=True if require_authorization is None else require_authorization,
        unauthorized_strategy=DEFAULT_STRATEGY if strategy is None else strategy,
    )
