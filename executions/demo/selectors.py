"""Reads of the demo store: a tenant's store, its items by kind, its recent commands and metric series."""

from __future__ import annotations

from typing import Any

from executions.demo.choices import DemoItemKind
from executions.demo.models import DemoCommand, DemoStore
from executions.models import MetricSample

RECENT_COMMANDS = 30
CHART_SAMPLES = 60
CHARTED_METRICS = ("product_count", "store_traffic", "conversion_rate")


def demo_store_for_tenant(tenant_id: str) -> DemoStore | None:
    return DemoStore.objects.filter(tenant_id=tenant_id).select_related("endpoint").first()


def demo_store_exists(tenant_id: str) -> bool:
    return DemoStore.objects.filter(tenant_id=tenant_id).exists()


def demo_items_by_kind(store: DemoStore) -> list[dict[str, Any]]:
    """One entry per kind (products first), each with its items, newest first."""
    items = list(store.items.order_by("-id"))
    return [
        {"kind": kind, "label": label, "items": [item for item in items if item.kind == kind]}
        for kind, label in DemoItemKind.choices
    ]


def demo_recent_commands(store: DemoStore, limit: int = RECENT_COMMANDS) -> list[DemoCommand]:
    return list(store.commands.order_by("-received_at", "-id")[:limit])


def demo_metric_series(store: DemoStore, limit: int = CHART_SAMPLES) -> dict[str, list[float]]:
    """The latest ``limit`` numeric samples of each charted metric, oldest first."""
    series: dict[str, list[float]] = {}
    for metric in CHARTED_METRICS:
        rows = (
            MetricSample.objects.filter(tenant_id=store.tenant_id, metric=metric, value_number__isnull=False)
            .order_by("-recorded_at", "-id")
            .values_list("value_number", flat=True)[:limit]
        )
        series[metric] = [float(value) for value in reversed(list(rows)) if value is not None]
    return series
