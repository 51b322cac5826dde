"""How long the tenants' history is kept, and the pruning that keeps it so (docs/operations.md).

Two kinds of history, one pruning (``prune_history``, an hourly beat entry), in batches of
``HISTORY_PRUNE_BATCH_SIZE`` rows, each batch its own short transaction, at most ``MAX_BATCHES`` of each
kind per run (the next run goes on):

1. Executions (docs/analytics.md, "Retention"): an ended execution triggered more than its tenant's
   ``execution_retention_days`` (default 90) ago goes, with its webhook deliveries and their attempts, its
   notices and its approval request; the tenant's notices older than that go too. Its daily roll-up stays
   (it was added when the execution ended), so totals and stats are unchanged. Open executions are never
   pruned. Each batch first moves ``Tenant.executions_pruned_before`` (under the tenant row's lock, which
   the roll-up rebuild takes too) so days whose raw rows may be gone are never rebuilt from them.
2. Events and metric samples, what backtests replay and behaviour rules read (customer activity is
   events with a ``customer_id``): ``AUTOMATIONS["HISTORY_RETENTION_DAYS"]`` (default 90) bounds them.
   Never pruned:

   - an event not yet matched (the outbox), or one that started an execution still kept (it is part of
     that execution's audit trail; the execution's ``event`` is protected);
   - a tenant's events within its longest enabled behaviour timeframe plus ``BEHAVIOR_CATCHUP_HOURS``:
     "no order for 120 days" needs 120 days of orders, whatever the retention says;
   - each metric's latest sample: it is the metric's current value for thresholds and contexts.

An event's idempotency key is remembered as long as the event is kept: a key reused after its event
was pruned is a new event.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Final

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from automations.choices import TriggerType
from automations.conf import app_settings
from automations.models import AutomationRule
from executions.choices import ENDED_STATUSES
from executions.models import (
    ApprovalRequest,
    AutomationExecution,
    BehaviorMatch,
    DeliveryAttempt,
    Event,
    MetricSample,
    Notification,
    ScheduleSlot,
    WebhookDelivery,
)
from governance.common.db_locks import write_transaction
from governance.models import Tenant
from governance.quotas import counters_prune

logger = logging.getLogger(__name__)

MAX_BATCHES: Final = 50  # per kind and run


@dataclass(frozen=True)
class HistoryPruneResult:
    events_deleted: int
    samples_deleted: int
    complete: bool  # False: a run stopped at MAX_BATCHES with more to prune
    executions_deleted: int = 0
    notifications_deleted: int = 0

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "executions_deleted": self.executions_deleted,
            "notifications_deleted": self.notifications_deleted,
            "events_deleted": self.events_deleted,
            "samples_deleted": self.samples_deleted,
            "complete": self.complete,
        }


def retention() -> dt.timedelta:
    return dt.timedelta(days=app_settings.HISTORY_RETENTION_DAYS)


def behavior_windows(tenant_id: str | None = None) -> dict[str, dt.timedelta]:
    """{tenant id: its longest enabled behaviour timeframe plus the catch-up}, for tenants that have one
    (``tenant_id``: that tenant's only)."""
    catchup = dt.timedelta(hours=float(app_settings.BEHAVIOR_CATCHUP_HOURS))
    windows: dict[str, dt.timedelta] = {}
    rules = AutomationRule.objects.filter(trigger_type=TriggerType.BEHAVIOR, enabled=True)
    if tenant_id is not None:
        rules = rules.filter(tenant_id=tenant_id)
    for tenant_id, config in rules.values_list("tenant_id", "trigger_config"):
        hours = config.get("timeframe_hours") if isinstance(config, dict) else None
        if isinstance(hours, int | float) and not isinstance(hours, bool) and hours > 0:
            window = dt.timedelta(hours=float(hours)) + catchup
            windows[tenant_id] = max(window, windows.get(tenant_id, window))
    return windows


def history_kept_since(tenant_id: str, now: dt.datetime | None = None) -> dt.datetime:
    """The oldest instant whose events and samples are still kept for the tenant (what a backtest may read)."""
    now = now or timezone.now()
    window = max(retention(), behavior_windows(tenant_id).get(tenant_id, dt.timedelta(0)))
    return now - window


def prunable_events(now: dt.datetime) -> QuerySet[Event]:
    """Events past their tenant's window, matched, and without an execution, oldest first."""
    cutoff = now - retention()
    longer = {tenant_id: now - window for tenant_id, window in behavior_windows().items() if now - window < cutoff}
    past_window = Q(occurred_at__lt=cutoff) & ~Q(tenant_id__in=list(longer))
    for tenant_id, tenant_cutoff in longer.items():
        past_window |= Q(tenant_id=tenant_id, occurred_at__lt=tenant_cutoff)
    started_one = Exists(AutomationExecution.objects.filter(event_id=OuterRef("pk")))
    return (
        Event.objects.filter(past_window, received_at__lt=cutoff, dispatched_at__isnull=False)
        .exclude(started_one)
        .order_by("occurred_at", "pk")
    )


def prunable_samples(now: dt.datetime) -> QuerySet[MetricSample]:
    """Samples past the retention that are not their metric's latest, oldest first."""
    newer = MetricSample.objects.filter(tenant_id=OuterRef("tenant_id"), metric=OuterRef("metric")).filter(
        Q(recorded_at__gt=OuterRef("recorded_at")) | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    return (
        MetricSample.objects.filter(recorded_at__lt=now - retention())
        .filter(Exists(newer))
        .order_by("recorded_at", "pk")
    )


def _delete_events(ids: list[int]) -> int:
    with write_transaction():
        BehaviorMatch.objects.filter(event_id__in=ids).update(event=None)
        # An execution may reference an event only from matching, which these were done with long ago;
        # the exclusion is checked again here, inside the transaction.
        ids = list(
            Event.objects.filter(pk__in=ids)
            .exclude(Exists(AutomationExecution.objects.filter(event_id=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
        deleted, _ = Event.objects.filter(pk__in=ids).delete()
    return deleted


def _delete_samples(ids: list[int]) -> int:
    with write_transaction():
        deleted, _ = MetricSample.objects.filter(pk__in=ids).delete()
    return deleted


def prunable_executions(tenant_id: str, cutoff: dt.datetime) -> QuerySet[AutomationExecution]:
    """The tenant's ended executions triggered before ``cutoff``, oldest first (the tenant's time index)."""
    return AutomationExecution.objects.filter(
        tenant_id=tenant_id, triggered_at__lt=cutoff, status__in=sorted(ENDED_STATUSES)
    ).order_by("triggered_at", "pk")


def _mark_pruned_before(tenant_id: str, cutoff: dt.datetime) -> None:
    """Lock the tenant row (as the roll-up rebuild does) and move its pruning watermark up to ``cutoff``.

    FOR NO KEY UPDATE: rows that reference the tenant can still be inserted meanwhile.
    """
    tenant = Tenant.objects.select_for_update(no_key=True).filter(pk=tenant_id).only("pk").first()
    if tenant is not None:
        Tenant.objects.filter(pk=tenant_id).filter(
            Q(executions_pruned_before__isnull=True) | Q(executions_pruned_before__lt=cutoff)
        ).update(executions_pruned_before=cutoff)


def _delete_executions(tenant_id: str, cutoff: dt.datetime, ids: list[int]) -> int:
    """Delete a batch of ended executions with what hangs off them, in one short transaction."""
    with write_transaction():
        _mark_pruned_before(tenant_id, cutoff)
        DeliveryAttempt.objects.filter(delivery__execution_id__in=ids).delete()
        WebhookDelivery.objects.filter(execution_id__in=ids).delete()
        Notification.objects.filter(execution_id__in=ids).delete()
        ApprovalRequest.objects.filter(execution_id__in=ids).delete()
        # Rows that only point back at the execution keep their own facts.
        Event.objects.filter(caused_by_execution_id__in=ids).update(caused_by_execution=None)
        ScheduleSlot.objects.filter(execution_id__in=ids).update(execution=None)
        BehaviorMatch.objects.filter(execution_id__in=ids).update(execution=None)
        _, per_model = AutomationExecution.objects.filter(pk__in=ids, status__in=sorted(ENDED_STATUSES)).delete()
    return per_model.get(AutomationExecution._meta.label, 0)


def _delete_notifications(ids: list[int]) -> int:
    with write_transaction():
        deleted, _ = Notification.objects.filter(pk__in=ids).delete()
    return deleted


def _prune_executions(now: dt.datetime, size: int) -> tuple[int, int, bool]:
    """Executions, then notices, past each tenant's ``execution_retention_days``; (executions, notices,
    complete). At most MAX_BATCHES batches of each over all tenants."""
    executions_deleted = notifications_deleted = 0
    execution_batches = notice_batches = 0
    complete = True
    for tenant_id, days in Tenant.objects.order_by("pk").values_list("pk", "execution_retention_days"):
        cutoff = now - dt.timedelta(days=max(1, int(days)))
        while True:
            if execution_batches >= MAX_BATCHES:
                complete = False
                break
            ids = list(prunable_executions(tenant_id, cutoff).values_list("pk", flat=True)[:size])
            if not ids:
                break
            execution_batches += 1
            executions_deleted += _delete_executions(tenant_id, cutoff, ids)
            if len(ids) < size:
                break
        old_notices = Notification.objects.filter(tenant_id=tenant_id, created_at__lt=cutoff).order_by("pk")
        while True:
            if notice_batches >= MAX_BATCHES:
                complete = False
                break
            ids = list(old_notices.values_list("pk", flat=True)[:size])
            if not ids:
                break
            notice_batches += 1
            notifications_deleted += _delete_notifications(ids)
            if len(ids) < size:
                break
    return executions_deleted, notifications_deleted, complete


def prune_history(now: dt.datetime | None = None, batch_size: int | None = None) -> HistoryPruneResult:
    """Delete executions past their tenant's retention, then events and metric samples past theirs (see the
    module docstring), in batches."""
    now = now or timezone.now()
    size = int(batch_size or app_settings.HISTORY_PRUNE_BATCH_SIZE)
    # Executions first: an event that started a pruned execution may go in the same run.
    executions_deleted, notifications_deleted, complete = _prune_executions(now, size)
    events_deleted = samples_deleted = 0
    for _ in range(MAX_BATCHES):
        ids = list(prunable_events(now).values_list("pk", flat=True)[:size])
        if not ids:
            break
        try:
            events_deleted += _delete_events(ids)
        except ProtectedError:  # an execution appeared for one of them: leave the batch to the next run
            logger.warning("history pruning: a batch of events gained an execution; skipped this run")
            complete = False
            break
        if len(ids) < size:
            break
    else:
        complete = False
    for _ in range(MAX_BATCHES):
        ids = list(prunable_samples(now).values_list("pk", flat=True)[:size])
        if not ids:
            break
        samples_deleted += _delete_samples(ids)
        if len(ids) < size:
            break
    else:
        complete = False
    counters_prune(now)  # the quota counts of past windows (governance/quotas.py), kept two days
    if events_deleted or samples_deleted or executions_deleted or notifications_deleted:
        logger.info(
            "history pruned: %s executions and %s notices past their tenant's retention; %s events, "
            "%s metric samples older than %s days%s",
            executions_deleted,
            notifications_deleted,
            events_deleted,
            samples_deleted,
            app_settings.HISTORY_RETENTION_DAYS,
            "" if complete else " (more next run)",
        )
    return HistoryPruneResult(events_deleted, samples_deleted, complete, executions_deleted, notifications_deleted)
