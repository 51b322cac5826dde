"""Tenant quotas (issue 20): what one reservation in the shared counter costs, per backend.

Each post of events and each action start reserves in ``governance.quotas`` once: on the database backend
(the embedded default; here the bench's ``DATABASE_URL``) a short write transaction, on Redis (when the
API throttle's cache is Redis, as in production) one round trip running a Lua script. Figures: median and
p99 microseconds per reservation over ``BENCH_QUOTA_CALLS`` calls, one tenant, limit never reached.
The Redis figure uses ``BENCH_QUOTA_REDIS_URL`` (default: the broker URL when it is Redis); its keys are
removed afterwards.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from django.core.management import call_command
from django.test.utils import override_settings

from governance import quotas
from governance.models import QuotaCounter, Tenant

CALLS = int(os.environ.get("BENCH_QUOTA_CALLS", "2000"))
TENANT = "tenant_quota_bench"


def _redis_url() -> str | None:
    url = os.environ.get("BENCH_QUOTA_REDIS_URL") or os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith(("redis://", "rediss://")) else None


def _time_reservations(tenant: Tenant) -> dict[str, float]:
    durations = []
    for _ in range(CALLS):
        started = time.perf_counter()
        quotas.events_quota_reserve({tenant.pk: 1})
        durations.append(time.perf_counter() - started)
    durations.sort()
    return {
        "median_us": statistics.median(durations) * 1e6,
        "p99_us": durations[int(len(durations) * 0.99) - 1] * 1e6,
    }


def _time_baseline(tenant: Tenant) -> dict[str, float]:
    """One primary-key read of the tenant (what every reservation also makes, for its limit): the machine's
    round-trip time in the same run, to read the other figures against on a shared machine."""
    durations = []
    for _ in range(CALLS):
        started = time.perf_counter()
        Tenant.objects.filter(pk=tenant.pk).values_list("events_per_minute_quota", flat=True).first()
        durations.append(time.perf_counter() - started)
    return {"median_us": statistics.median(durations) * 1e6}


def run() -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    tenant, _ = Tenant.objects.update_or_create(
        pk=TENANT, defaults={"name": "Quota bench", "events_per_minute_quota": 10**9}
    )
    figures: dict[str, Any] = {"calls": CALLS}
    figures["tenant_read_median_us"] = _time_baseline(tenant)["median_us"]
    with override_settings(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        }
    ):
        assert quotas.counter_backend() == "database"
        for name, value in _time_reservations(tenant).items():
            figures[f"database_{name}"] = value
    QuotaCounter.objects.filter(key__endswith=TENANT).delete()
    url = _redis_url()
    if url:
        with override_settings(
            CACHES={
                "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                "throttle": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url},
            }
        ):
            assert quotas.counter_backend() == "redis"
            for name, value in _time_reservations(tenant).items():
                figures[f"redis_{name}"] = value
            client = quotas.redis_client(quotas.CACHE_ALIAS)
            keys = list(client.scan_iter(f"{quotas.REDIS_PREFIX}:*{TENANT}*"))
            if keys:
                client.delete(*keys)
    tenant.delete()
    return figures
