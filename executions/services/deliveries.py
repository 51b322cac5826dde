"""Webhook deliveries and the execution they carry: settle the execution when its deliveries end.

An action whose deliveries are still open leaves its execution ``retrying`` (docs/actions.md). The
delivery sweeper (``send_due_deliveries``) and the ``send_delivery`` task retry the deliveries on their
own schedule and call ``execution_settle_deliveries`` after every attempt: once every delivery has ended,
one guarded update moves the execution ``retrying -> succeeded | failed`` and only the caller that won it
records the rule's totals and the failure notice, so an execution is never counted twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from executions.choices import ExecutionStatus
from executions.models import AutomationExecution
from executions.services.common import execution_ended, load_execution, transition

if TYPE_CHECKING:
    from executions.delivery.services import DeliveryOutcome

logger = logging.getLogger(__name__)


def execution_settle_deliveries(execution_id: int) -> AutomationExecution | None:
    """Move a ``retrying`` execution to what its webhook deliveries add up to; returns it as it is after.

    Deliveries still open: the execution stays ``retrying`` with ``next_attempt_at`` = the earliest due
    delivery. All delivered: ``succeeded``. All ended and one failed: ``failed`` with the deliveries'
    errors. An execution in any other state (running, already settled, or ended before a manual
    redelivery) is left alone.
    """
    from executions.delivery.models import WebhookDelivery
    from executions.delivery.selectors import execution_delivery_summary

    summary = execution_delivery_summary(execution_id)
    if summary.status is None:
        return load_execution(execution_id)
    if summary.status == ExecutionStatus.RETRYING:
        if summary.next_attempt_at is not None:
            AutomationExecution.objects.filter(pk=execution_id, status=ExecutionStatus.RETRYING).update(
                next_attempt_at=summary.next_attempt_at
            )
        return load_execution(execution_id)
    execution = load_execution(execution_id)
    if execution is None or execution.status != ExecutionStatus.RETRYING:
        return execution
    now = timezone.now()
    succeeded = summary.status == ExecutionStatus.SUCCEEDED
    errors = list(
        WebhookDelivery.objects.filter(execution_id=execution_id).exclude(last_error="").values_list("id", "last_error")
    )
    error = "" if succeeded else "webhook delivery failed: " + "; ".join(f"delivery {i}: {e}" for i, e in errors)
    action_result = dict(execution.action_result or {})
    action_result.update(
        outcome=str(summary.status),
        delivery="delivered" if succeeded else "failed",
        deliveries_succeeded=summary.succeeded,
        deliveries_failed=summary.failed,
    )
    action_result.pop("error", None)
    if error:
        action_result["error"] = error
    with transaction.atomic():
        won = transition(
            execution_id,
            [ExecutionStatus.RETRYING],
            summary.status,
            action_result=action_result,
            action_completed_at=now,
            error_message=error,
            next_attempt_at=None,
            lease_expires_at=None,
        )
        if won:
            execution_ended(execution, succeeded, execution.execution_time_ms or 0.0, error)
    return load_execution(execution_id)


def on_delivery_outcome(outcome: DeliveryOutcome) -> None:
    """``send_due_deliveries(on_outcome=...)``: settle the delivery's execution after an attempt."""
    execution_settle_deliveries(outcome.execution_id)


def send_delivery(delivery_id: int) -> DeliveryOutcome | None:
    """Send one due delivery (claim-guarded, so a duplicate message sends nothing) and settle its execution."""
    from executions.delivery.models import WebhookDelivery
    from executions.delivery.services import delivery_send

    try:
        outcome = delivery_send(delivery_id)
    except WebhookDelivery.DoesNotExist:
        logger.info("delivery %s no longer exists", delivery_id)
        return None
    if outcome.attempted:
        execution_settle_deliveries(outcome.execution_id)
    return outcome


def send_due_deliveries_and_settle(limit: int = 100, budget_seconds: float = 35.0) -> dict[str, int]:
    """The delivery sweeper: send due deliveries in batches of ``limit`` for up to ``budget_seconds``, settling
    the executions they carry; returns counts."""
    import time
    from dataclasses import asdict

    from executions.delivery.services import send_due_deliveries

    deadline = time.monotonic() + budget_seconds
    counts: dict[str, int] = {}
    while True:
        batch = asdict(send_due_deliveries(limit=limit, on_outcome=on_delivery_outcome))
        for key, value in batch.items():
            counts[key] = counts.get(key, 0) + value
        if batch["due"] < limit or batch["attempted"] == 0 or time.monotonic() > deadline:
            break
    if counts.get("attempted") or counts.get("errors"):
        logger.info("delivery sweep: %s", counts)
    return counts


def enqueue_delivery(delivery_id: int) -> None:
    """AUTOMATIONS_WEBHOOK_ENQUEUE_DELIVERY: queue the send_delivery task (after commit, by the caller)."""
    from executions.services.dispatch import publish

    publish("send_delivery_task", delivery_id)
