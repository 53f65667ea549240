from __future__ import annotations

import pytest

from cache import CacheSettings, method_cache_settings


def _settings(**overrides: object) -> CacheSettings:
    args: dict[str, object] = {
        "cache_cluster_enabled": True,
        "http_method": "GET",
        "caching_enabled": None,
        "ttl": None,
        "require_authorization": None,
        "strategy": None,
    }
    args.update(overrides)
    return method_cache_settings(**args)  # type: ignore[arg-type]


def test_get_on_a_cache_enabled_stage_uses_the_aws_defaults() -> None:
    assert _settings() == CacheSettings(
        enabled=True,
        ttl_s=300,
        require_authorization=True,
        unauthorized_strategy="SUCCEED_WITH_RESPONSE_HEADER",
    )


@pytest.mark.parametrize(
    ("cluster", "method", "caching_enabled", "ttl", "enabled"),
    [
        (False, "GET", None, None, False),  # no cache cluster: nothing caches
        (False, "GET", True, 60, False),
        (True, "GET", False, None, False),  # cachingEnabled false turns GET off
        (True, "get", None, None, True),
        (True, "POST", None, None, False),  # other methods only when asked
        (True, "POST", True, None, True),
        (True, "HEAD", None, None, False),
        (True, "ANY", None, None, False),
        (True, "GET", True, 0, False),  # TTL 0 disables
        (True, "GET", None, 3600, True),
    ],
)
def test_which_methods_cache(
    cluster: bool, method: str, caching_enabled: bool | None, ttl: int | None, enabled: bool
) -> None:
    settings = _settings(
        cache_cluster_enabled=cluster, http_method=method, caching_enabled=caching_enabled, ttl=ttl
    )
    assert settings.enabled is enabled


def test_explicit_values_win() -> None:
    settings = _settings(ttl=60, require_authorization=False, strategy="FAIL_WITH_403")
    assert (settings.ttl_s, settings.require_authorization, settings.unauthorized_strategy) == (
        60,
        False,
        "FAIL_WITH_403",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ttl": 3601}, "cacheTtlInSeconds must be 0..3600"),
        ({"ttl": -1}, "cacheTtlInSeconds must be 0..3600"),
        ({"strategy": "FAIL"}, "unauthorizedCacheControlHeaderStrategy must be one of"),
    ],
)
def test_bad_values_say_what_is_allowed(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _settings(**overrides)
