"""Deploy checks for the API's guards."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_shared_throttle(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The API throttle must count in a shared cache, or each web process allows the whole rate."""
    backend = settings.CACHES.get("throttle", {}).get("BACKEND", "")
    if backend.endswith("LocMemCache"):
        return [
            Warning(
                "The API throttle counts in local memory: each web process allows the whole rate.",
                hint="Set THROTTLE_CACHE_URL=redis://…, or use a Redis broker (CELERY_BROKER_URL), which "
                "production settings then share for the counters.",
                id="governance.W001",
            )
        ]
    return []
