"""Sweepers: put back on the queue whatever a lost message or a killed worker left behind.

``sweep_outbox`` re-queues events never matched and executions stuck pending, approved or due for a
retry; ``sweep_expired_leases`` reclaims executions left ``running`` by a worker that died. Both
select due rows through an index, claim each with a guarded update (so two sweepers never queue the
same row twice in one window), wrap each row in its own try/except, and return counts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.expressions import Combinable
from django.utils import timezone

from automations.conf import app_settings
from executions import task_names
from executions.choices import OPEN_DELIVERY_STATUSES, ExecutionStatus
from executions.delivery.models import WebhookDelivery
from executions.dispatch import publish_on_commit
from executions.models import AutomationExecution, Event
from executions.pipeline.record import execution_ended
from executions.transitions import transition
from governance.common.prometheus import count_sweeper_recoveries

logger = logging.getLogger(__name__)


def _batch_size(batch_size: int | None) -> int:
    return int(batch_size or app_settings.SWEEP_BATCH_SIZE)


def _requeue_events(now: dt.datetime, cutoff: dt.datetime, limit: int, counts: Counter) -> None:
    due = (
        Event.objects.filter(dispatched_at__isnull=True, received_at__lt=cutoff)
        .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff))
        .order_by("received_at")
        .values_list("pk", "requeued_at")[:limit]
    )
    for event_id, requeued_at in due:
        try:
            claimed = Event.objects.filter(pk=event_id, dispatched_at__isnull=True, requeued_at=requeued_at).update(
                requeued_at=now
            )
            if claimed:
                publish_on_commit(task_names.MATCH_EVENT, event_id)
                counts["events_requeued"] += 1
        except Exception:  # a sweep goes on past one bad row
            logger.exception("could not re-queue event %s", event_id, extra={"event_id": event_id})
            counts["errors"] += 1


def _requeue_executions(
    status: str, task_name: str, due: Q | Combinable, now: dt.datetime, limit: int, counts: Counter, label: str
) -> None:
    rows = (
        AutomationExecution.objects.filter(due, status=status)
        .order_by("updated_at")
        .values_list("pk", "updated_at")[:limit]
    )
    for execution_id, updated_at in rows:
        try:
            # Touching updated_at is the claim: the row is not re-queued again for another window.
            claimed = AutomationExecution.objects.filter(pk=execution_id, status=status, updated_at=updated_at).update(
                updated_at=now
            )
            if claimed:
                publish_on_commit(task_name, execution_id)
                counts[label] += 1
        except Exception:  # a sweep goes on past one bad row
            logger.exception("could not re-queue execution %s", execution_id, extra={"execution_id": execution_id})
            counts["errors"] += 1


def sweep_outbox(
    now: dt.datetime | None = None, older_than_seconds: float | None = None, batch_size: int | None = None
) -> dict[str, int]:
    """Re-queue work whose message never arrived, untouched for ``older_than_seconds`` (default from settings).

    1. events never matched (``dispatched_at`` null) -> match_event;
    2. executions still pending -> run_execution;
    3. executions approved but not started -> run_action;
    4. executions retrying whose next attempt is due -> run_action;
    5. executions deferred (held by the contact policy or the tenant's quota) whose time has come -> run_action.
    """
    now = now or timezone.now()
    seconds = app_settings.SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = now - dt.timedelta(seconds=float(seconds))
    limit = _batch_size(batch_size)
    counts: Counter = Counter()
    _requeue_events(now, cutoff, limit, counts)
    stale = Q(updated_at__lt=cutoff)
    _requeue_executions(
        ExecutionStatus.PENDING, task_names.RUN_EXECUTION, stale, now, limit, counts, "pending_requeued"
    )
    _requeue_executions(ExecutionStatus.APPROVED, task_names.RUN_ACTION, stale, now, limit, counts, "approved_requeued")
    # A retry is due once next_attempt_at has passed; queued once when it falls due (updated_at is
    # still older than next_attempt_at), then again only after a quiet window.
    due_retry: Q | Combinable = Q(next_attempt_at__lte=now) & (Q(updated_at__lt=F("next_attempt_at")) | stale)
    # An execution waiting on open webhook deliveries is retried by the delivery sweeper, not here; once
    # they have all ended (and nothing settled it) run_action settles it through its handler.
    due_retry &= ~Exists(
        WebhookDelivery.objects.filter(execution_id=OuterRef("pk"), status__in=sorted(OPEN_DELIVERY_STATUSES))
    )
    _requeue_executions(
        ExecutionStatus.RETRYING, task_names.RUN_ACTION, due_retry, now, limit, counts, "retries_queued"
    )
    # A deferred run (held by a contact cap, quiet hours or the execution quota) is queued once its time has
    # come, as a due retry is; run_action checks the holds again and claims it with a guarded update, so it
    # runs once.
    due_deferred: Q | Combinable = Q(next_attempt_at__lte=now) & (Q(updated_at__lt=F("next_attempt_at")) | stale)
    _requeue_executions(
        ExecutionStatus.DEFERRED, task_names.RUN_ACTION, due_deferred, now, limit, counts, "deferred_queued"
    )
    result = {
        key: counts[key]
        for key in (
            "events_requeued",
            "pending_requeued",
            "approved_requeued",
            "retries_queued",
            "deferred_queued",
            "errors",
        )
    }
    if any(result.values()):
        logger.info("outbox sweep: %s", result)
        count_sweeper_recoveries(result)
    return result


def _reclaim(execution_id: int, token: int, now: dt.datetime, counts: Counter) -> None:
    """Reclaim one running execution whose lease expired: its action's outcome is unknown.

    The rule: an action is retried only when its outcome is unknown, and always with the same
    idempotency key (the execution's), so a receiver that saw the first attempt can drop the second.
    A worker that died mid-attempt leaves exactly that: retry while attempts remain, else fail.
    """
    expired = Q(action_attempts=token, lease_expires_at__lt=now)
    message = f"attempt {token}: the worker was lost while the action ran; its outcome is unknown"
    if token < int(app_settings.ACTION_MAX_ATTEMPTS):
        with transaction.atomic():
            reclaimed = transition(
                execution_id,
                [ExecutionStatus.RUNNING],
                ExecutionStatus.RETRYING,
                extra_filter=expired,
                lease_expires_at=None,
                next_attempt_at=now,
                error_message=f"{message}; retrying with the same idempotency key",
            )
            if reclaimed:
                publish_on_commit(task_names.RUN_ACTION, execution_id)
                counts["leases_retried"] += 1
        return
    with transaction.atomic():
        failed = transition(
            execution_id,
            [ExecutionStatus.RUNNING],
            ExecutionStatus.FAILED,
            extra_filter=expired,
            lease_expires_at=None,
            action_completed_at=now,
            error_message=f"{message}, and no attempts remain",
        )
        if failed:
            execution = AutomationExecution.objects.select_related("automation_rule", "event").get(pk=execution_id)
            execution_ended(execution, False, execution.execution_time_ms or 0.0)
            counts["leases_failed"] += 1


def sweep_expired_leases(now: dt.datetime | None = None, batch_size: int | None = None) -> dict[str, int]:
    """Reclaim executions left ``running`` past their lease by a killed worker; returns counts."""
    now = now or timezone.now()
    counts: Counter = Counter()
    rows = (
        AutomationExecution.objects.filter(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now)
        .order_by("lease_expires_at")
        .values_list("pk", "action_attempts")[: _batch_size(batch_size)]
    )
    for execution_id, token in rows:
        try:
            _reclaim(execution_id, token, now, counts)
        except Exception:  # a sweep goes on past one bad row
            logger.exception("could not reclaim execution %s", execution_id, extra={"execution_id": execution_id})
            counts["errors"] += 1
    result = {key: counts[key] for key in ("leases_retried", "leases_failed", "errors")}
    if any(result.values()):
        logger.warning("lease sweep: %s", result)
        count_sweeper_recoveries(result)
    return result
