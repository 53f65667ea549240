"""Sluice's response cache: AWS API Gateway semantics over a memory or Redis store."""

from __future__ import annotations

from cache.keys import CacheKeySpec, encoding_variant
from cache.policy import (
    MAX_CACHEABLE_BYTES,
    WARNING_HEADER,
    Invalidation,
    cacheable,
    invalidation,
)
from cache.response import CachedResponse
from cache.response_cache import ResponseCache
from cache.settings import CacheSettings, method_cache_settings
from cache.storage import CacheStorage, CacheStorageError, cache_storage_from_url

__all__ = [
    "MAX_CACHEABLE_BYTES",
    "WARNING_HEADER",
    "CacheKeySpec",
    "CacheSettings",
    "CacheStorage",
    "CacheStorageError",
    "CachedResponse",
    "Invalidation",
    "ResponseCache",
    "cache_storage_from_url",
    "cacheable",
    "encoding_variant",
    "invalidation",
    "method_cache_settings",
]
