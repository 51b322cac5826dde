"""The metric providers of the project: one registry, read by rule contexts and by the threshold tick.

``AUTOMATIONS["METRIC_PROVIDERS"] = {"store_traffic": "shop.metrics.store_traffic"}`` names a callable
``(tenant) -> value`` per metric. Its value is a live fact in every rule's context (``build_context``)
and the observation a threshold tick pulls for that metric; a metric without a provider uses the latest
sample pushed through ``POST /api/metrics``. See docs/listeners.md and docs/pipeline.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from automations.conf import app_settings

if TYPE_CHECKING:
    from governance.models import Tenant

MetricProvider = Callable[["Tenant"], Any]


@functools.lru_cache(maxsize=8)
def _load_providers(paths: tuple[tuple[str, str], ...]) -> dict[str, MetricProvider]:
    return {metric: import_string(path) for metric, path in paths}


def metric_providers() -> dict[str, MetricProvider]:
    """{metric: provider} from ``AUTOMATIONS["METRIC_PROVIDERS"]``, imported once per distinct setting."""
    return _load_providers(tuple(sorted(app_settings.METRIC_PROVIDERS.items())))
