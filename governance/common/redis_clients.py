"""One redis-py client per process on the server of a Redis cache (the API throttle's, the quotas')."""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

_redis_clients: dict[str, Any] = {}


def redis_client(alias: str) -> Any:
    """A redis-py client on the server of cache ``alias``, made once per process (None when that cache is
    not Redis). Thread-safe, as redis-py clients are.

    TRICKY: Django's RedisCache builds a new ``redis.Redis`` object for every operation, which costs more
    CPU than the round trip itself; the client made here shares the cache's connection pool.
    """
    cache = caches[alias]
    if not isinstance(cache, RedisCache):
        return None
    key = f"{alias} {getattr(cache, '_servers', '')}"  # another server list (a settings change): another client
    client = _redis_clients.get(key)
    if client is None:
        client = _redis_clients[key] = cache._cache.get_client(write=True)
    return client
