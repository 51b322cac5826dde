"""Metric facts for threshold rules: samples pushed through POST /api/metrics, and pull providers.

The default provider of every metric is "the latest pushed sample" (``MetricSample`` rows, written by
``record_metric_samples``). A host project registers pull providers per metric in settings::

    AUTOMATIONS["METRIC_PROVIDERS"] = {"store_traffic": "shop.metrics.store_traffic"}

each a callable ``(tenant) -> number | str | None`` (None: no value now), registered once for the whole
project (``executions.providers``). The five-minute threshold tick calls each pull provider once per
(tenant, metric) that an enabled rule watches.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from executions import task_names
from executions.dispatch import publish_soon
from executions.models import MetricSample
from governance.common.db_locks import write_transaction
from governance.models import Tenant

logger = logging.getLogger(__name__)

METRIC_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_METRIC_LENGTH = 100
MAX_TEXT_LENGTH = 255
MAX_SAMPLES_PER_CALL = 1000
SAMPLE_KEYS = ("tenant_id", "metric", "value")

# The spec's metrics; any identifier is accepted, these are the ones the builder offers.
DOCUMENTED_METRICS: dict[str, str] = {
    "product_count": "Number of live products in the store (a whole number).",
    "store_traffic": "Store visits in the last hour.",
    "conversion_rate": "Orders per visit in the last 24 hours, as a percentage (0-100).",
    "campaign_performance": "Click-through rate of the running campaigns, as a percentage (0-100).",
}

MetricValue = float | int | str


@dataclass(frozen=True)
class Observation:
    """A metric's value as seen at one instant."""

    value: MetricValue
    observed_at: dt.datetime


# --- pushed samples ----------------------------------------------------------------------------


def _sample_errors(item: object, prefix: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(item, dict):
        return {prefix or "samples": ["must be an object with tenant_id, metric and value"]}

    def path(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    for key in item:
        if key not in SAMPLE_KEYS:
            errors.setdefault(path(str(key)), []).append(f"unknown field; expected one of {', '.join(SAMPLE_KEYS)}")
    tenant_id = item.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        errors.setdefault(path("tenant_id"), []).append("this field is required, a tenant id such as tenant_123")
    metric = item.get("metric")
    if not isinstance(metric, str) or not metric:
        errors.setdefault(path("metric"), []).append("this field is required, such as product_count")
    elif len(metric) > MAX_METRIC_LENGTH or not METRIC_RE.match(metric):
        errors.setdefault(path("metric"), []).append("use letters, digits and underscores, such as product_count")
    value = item.get("value")
    if isinstance(value, bool) or value is None:
        errors.setdefault(path("value"), []).append("this field is required, a number or a text such as active")
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            errors.setdefault(path("value"), []).append("must be a finite number")
    elif isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            errors.setdefault(path("value"), []).append(f"must be at most {MAX_TEXT_LENGTH} characters")
    else:
        errors.setdefault(path("value"), []).append("must be a number or a text")
    return errors


def record_metric_samples(
    samples: dict[str, Any] | list[dict[str, Any]], now: dt.datetime | None = None, check: bool = True
) -> list[MetricSample]:
    """Validate and store pushed samples, all or none; returns the stored rows.

    ``samples`` is one ``{"tenant_id", "metric", "value"}`` object or a list of them. Errors are keyed
    by path (``value`` for one object, ``samples[2].value`` in a list). After commit, each (tenant,
    metric) is queued for a threshold check, so a pushed value is acted on within seconds.
    """
    items = samples if isinstance(samples, list) else [samples]
    errors: dict[str, list[str]] = {}
    if not items:
        errors["samples"] = ["give at least one sample"]
    elif len(items) > MAX_SAMPLES_PER_CALL:
        errors["samples"] = [f"at most {MAX_SAMPLES_PER_CALL} samples per call"]
    for index, item in enumerate(items[:MAX_SAMPLES_PER_CALL]):
        errors.update(_sample_errors(item, f"samples[{index}]" if isinstance(samples, list) else ""))
    if not errors:
        tenant_ids = {item["tenant_id"] for item in items}
        known = set(Tenant.objects.filter(id__in=tenant_ids).values_list("id", flat=True))
        for index, item in enumerate(items):
            if item["tenant_id"] not in known:
                key = f"samples[{index}].tenant_id" if isinstance(samples, list) else "tenant_id"
                errors.setdefault(key, []).append(f'no tenant "{item["tenant_id"]}"')
    if errors:
        raise ValidationError(errors)
    recorded_at = now or timezone.now()
    rows = [
        MetricSample(
            tenant_id=item["tenant_id"],
            metric=item["metric"],
            value_number=None if isinstance(item["value"], str) else float(item["value"]),
            value_text=item["value"] if isinstance(item["value"], str) else None,
            recorded_at=recorded_at,
        )
        for item in items
    ]
    with write_transaction():
        MetricSample.objects.bulk_create(rows)
        if check:
            for tenant_id, metric in sorted({(row.tenant_id, row.metric) for row in rows}):
                transaction.on_commit(functools.partial(_queue_check, tenant_id, metric))
    return rows


def _queue_check(tenant_id: str, metric: str) -> None:
    """Queue the threshold check of the tenant's metric; if the broker is away, the five-minute tick
    still evaluates the stored sample (a blip only delays it)."""
    publish_soon(task_names.CHECK_METRIC_THRESHOLDS, tenant_id, metric)


def latest_observation(tenant_id: str, metric: str) -> Observation | None:
    """The default provider: the latest pushed sample of a tenant's metric."""
    sample = MetricSample.objects.filter(tenant_id=tenant_id, metric=metric).order_by("-recorded_at", "-id").first()
    return Observation(sample.value, sample.recorded_at) if sample is not None and sample.value is not None else None


# --- pull providers ----------------------------------------------------------------------------


def pull_observation(provider: Callable[[Tenant], Any], tenant: Tenant, now: dt.datetime) -> Observation | None:
    """Ask a pull provider; None when it has no value (or gives something that is not a number or text)."""
    value = provider(tenant)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        logger.warning("metric provider %r gave %r for %s; expected a number or a text", provider, value, tenant.pk)
        return None
    if isinstance(value, str):
        value = value[:MAX_TEXT_LENGTH]
    return Observation(value, now)
