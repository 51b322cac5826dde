"""Reads about webhook endpoints and deliveries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from executions.choices import OPEN_DELIVERY_STATUSES, DeliveryStatus, ExecutionStatus
from executions.delivery.models import WebhookDelivery, WebhookEndpoint


def deliveries_due(now: dt.datetime, *, limit: int = 100) -> list[int]:
    """Ids of open deliveries whose next attempt time has come, oldest first (the ``delivery_due`` index)."""
    return list(
        WebhookDelivery.objects.filter(status__in=sorted(OPEN_DELIVERY_STATUSES), next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def endpoints_receiving(tenant_id: str, action_type: str) -> QuerySet[WebhookEndpoint]:
    """The tenant's enabled endpoints for ``action_type`` (or for all actions), oldest first."""
    return (
        WebhookEndpoint.objects.filter(tenant_id=tenant_id, enabled=True)
        .filter(Q(action_type__isnull=True) | Q(action_type=action_type))
        .order_by("id")
    )


def endpoints_for_user(user: User) -> QuerySet[WebhookEndpoint]:
    """The endpoints of every tenant the user belongs to (all for a superuser)."""
    from governance.selectors import tenant_ids_for_user

    if user.is_superuser:
        return WebhookEndpoint.objects.all()
    return WebhookEndpoint.objects.filter(tenant_id__in=tenant_ids_for_user(user))


def deliveries_for_user(user: User) -> QuerySet[WebhookDelivery]:
    """The deliveries of every tenant the user belongs to (all for a superuser)."""
    from governance.selectors import tenant_ids_for_user

    if user.is_superuser:
        return WebhookDelivery.objects.all()
    return WebhookDelivery.objects.filter(tenant_id__in=tenant_ids_for_user(user))


@dataclass(frozen=True)
class ExecutionDeliverySummary:
    """How an execution's deliveries stand together, as an execution status."""

    status: str | None  # an ExecutionStatus, or None when the execution has no deliveries
    total: int
    succeeded: int
    failed: int
    open: int
    next_attempt_at: dt.datetime | None


def execution_delivery_summary(execution_id: int) -> ExecutionDeliverySummary:
    """Succeeded when every delivery succeeded; retrying while any is open; failed once all ended, one failed."""
    rows = list(WebhookDelivery.objects.filter(execution_id=execution_id).values_list("status", "next_attempt_at"))
    succeeded = sum(1 for status, _ in rows if status == DeliveryStatus.SUCCEEDED)
    failed = sum(1 for status, _ in rows if status == DeliveryStatus.FAILED)
    open_times = [when for status, when in rows if status in OPEN_DELIVERY_STATUSES]
    if not rows:
        status = None
    elif open_times:
        status = ExecutionStatus.RETRYING
    elif failed:
        status = ExecutionStatus.FAILED
    else:
        status = ExecutionStatus.SUCCEEDED
    return ExecutionDeliverySummary(
        status=status,
        total=len(rows),
        succeeded=succeeded,
        failed=failed,
        open=len(open_times),
        next_attempt_at=min((when for when in open_times if when is not None), default=None),
    )
