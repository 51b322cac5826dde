"""The daily roll-up of webhook deliveries per endpoint (``DeliveryDailyRollup``, docs/analytics.md): what the
dashboard reads for each endpoint's success rate and p95 latency, at a cost that follows days x endpoints.

An idempotent periodic fold, not an increment where deliveries end: deliveries end in several places of
the sender (a batch's successes, a failure, a late answer, a disabled endpoint), some inside the pipeline's
batch transactions, and an increment there would add a hot row lock per endpoint and day to every send.
Instead ``delivery_rollups_fold`` recounts a tenant's recent days from raw rows and replaces their roll-up
rows, in one transaction that holds the tenant row (FOR NO KEY UPDATE), so two folds of one tenant run one
after the other and each writes a recount of one snapshot: exact, whatever the workers do meanwhile, and
running it again changes nothing. The periodic task folds from the day before the newest folded day (a
tenant never folded: ``BACKFILL_DAYS`` back), so the dashboard lags the deliveries by at most its interval.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from executions.choices import AttemptOutcome, DeliveryStatus
from executions.delivery.models import (
    LATENCY_BUCKET_BOUNDS_MS,
    LATENCY_BUCKET_FIELDS,
    DeliveryAttempt,
    DeliveryDailyRollup,
    WebhookDelivery,
    WebhookEndpoint,
)
from governance.models import Tenant

logger = logging.getLogger(__name__)

BACKFILL_DAYS: Final = 90  # a tenant's first fold reaches this far back (the raw rows' default retention)
# Attempts that got an answer or an error; in-flight and unknown ones (the worker was lost) have no latency.
FINISHED_OUTCOMES: Final = (
    AttemptOutcome.SUCCEEDED,
    AttemptOutcome.DUPLICATE,
    AttemptOutcome.RETRYABLE,
    AttemptOutcome.FAILED,
)
FAILED_OUTCOMES: Final = (AttemptOutcome.RETRYABLE, AttemptOutcome.FAILED)


def latency_bucket_filters() -> dict[str, Q]:
    """Each bucket field's attempts: duration from the previous bound (inclusive) to its own (exclusive)."""
    filters: dict[str, Q] = {}
    lower: int | None = None
    for field, upper in zip(LATENCY_BUCKET_FIELDS, [*LATENCY_BUCKET_BOUNDS_MS, None], strict=True):
        match = Q()
        if lower is not None:
            match &= Q(duration_ms__gte=lower)
        if upper is not None:
            match &= Q(duration_ms__lt=upper)
        filters[field] = match
        lower = upper
    return filters


def delivery_rollups_fold(tenant_id: str, since: dt.date) -> int:
    """Recount the tenant's deliveries and attempts of local days from ``since`` and replace their roll-up
    rows; returns the rows written. Safe to run at any time, as often as wanted."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update(no_key=True).filter(pk=tenant_id).first()
        if tenant is None:
            return 0
        zone = tenant.zone
        start = dt.datetime.combine(since, dt.time(0), tzinfo=zone)
        # Every delivery that ended or had an attempt finish since ``start`` was updated since then.
        touched = WebhookDelivery.objects.filter(tenant_id=tenant_id, updated_at__gte=start, endpoint__isnull=False)
        rows: dict[tuple[int, dt.date], dict[str, Any]] = {}
        endings = (
            touched.filter(completed_at__gte=start, status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED])
            .annotate(day=TruncDate("completed_at", tzinfo=zone))
            .values("endpoint_id", "day")
            .annotate(
                succeeded=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED)),
                failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
            )
            .order_by()
        )
        for ending in endings:
            row = rows.setdefault((ending["endpoint_id"], ending["day"]), {})
            row.update(deliveries_succeeded=ending["succeeded"], deliveries_failed=ending["failed"])
        attempts = (
            DeliveryAttempt.objects.filter(
                delivery__in=touched, finished_at__gte=start, outcome__in=FINISHED_OUTCOMES, duration_ms__isnull=False
            )
            .annotate(day=TruncDate("finished_at", tzinfo=zone))
            .values("delivery__endpoint_id", "day")
            .annotate(
                attempts=Count("id"),
                attempts_failed=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)),
                latency_ms_sum=Sum("duration_ms"),
                **{field: Count("id", filter=match) for field, match in latency_bucket_filters().items()},
            )
            .order_by()
        )
        for counted in attempts:
            sums: dict[str, Any] = dict(counted)
            key = (sums.pop("delivery__endpoint_id"), sums.pop("day"))
            rows.setdefault(key, {}).update(sums)
        DeliveryDailyRollup.objects.filter(tenant_id=tenant_id, day__gte=since).delete()
        now = timezone.now()
        DeliveryDailyRollup.objects.bulk_create(
            DeliveryDailyRollup(tenant_id=tenant_id, endpoint_id=endpoint_id, day=day, folded_at=now, **sums)
            for (endpoint_id, day), sums in sorted(rows.items())
        )
    return len(rows)


def delivery_rollups_fold_due(now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic fold: every tenant with a webhook endpoint, from the day before its newest folded day
    (``BACKFILL_DAYS`` back when never folded); each tenant in its own transaction. Returns counts."""
    now = now or timezone.now()
    counts = {"tenants": 0, "rows": 0, "errors": 0}
    tenant_ids = sorted(set(WebhookEndpoint.objects.values_list("tenant_id", flat=True)))
    newest = dict(
        DeliveryDailyRollup.objects.filter(tenant_id__in=tenant_ids)
        .values("tenant_id")
        .annotate(newest=Max("day"))
        .values_list("tenant_id", "newest")
    )
    zones = {tenant.pk: tenant.zone for tenant in Tenant.objects.filter(pk__in=tenant_ids).only("timezone")}
    for tenant_id in tenant_ids:
        today = now.astimezone(zones.get(tenant_id, dt.UTC)).date()
        folded = newest.get(tenant_id)
        since = min(folded, today) - dt.timedelta(days=1) if folded else today - dt.timedelta(days=BACKFILL_DAYS)
        try:
            counts["rows"] += delivery_rollups_fold(tenant_id, since)
            counts["tenants"] += 1
        except Exception:  # a sweep: one tenant's failure must not stop the others
            counts["errors"] += 1
            logger.exception("delivery roll-up fold failed for tenant %s", tenant_id, extra={"tenant_id": tenant_id})
    return counts


def latency_percentile(buckets: Sequence[int], fraction: float) -> float | None:
    """The ``fraction`` quantile (0.95: p95) of latencies counted in ``buckets`` (``LATENCY_BUCKET_FIELDS``
    order), interpolated linearly inside its bucket as Prometheus' ``histogram_quantile`` does; the last,
    open bucket answers its lower bound (10 s: "at least"). None without attempts."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    lower = 0.0
    for count, upper in zip(buckets, [*LATENCY_BUCKET_BOUNDS_MS, None], strict=True):
        if count and seen + count >= rank:
            if upper is None:
                return lower
            return round(lower + (upper - lower) * (rank - seen) / count, 1)
        seen += count
        lower = float(upper) if upper is not None else lower
    return lower


def bucket_counts(row: Mapping[str, Any]) -> list[int]:
    """A roll-up row's (or sums') latency buckets, in ``LATENCY_BUCKET_FIELDS`` order."""
    return [int(row.get(field) or 0) for field in LATENCY_BUCKET_FIELDS]
