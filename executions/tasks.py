"""Celery tasks: thin wrappers that take ids and call one service each.

Pipeline tasks acknowledge late and are re-queued when their worker dies: safe because every step
they take is claimed by a guarded update, so a redelivery finds the row past its state and returns.
Their hard time limit (CELERY_TASK_TIME_LIMIT) stays below the execution lease, which stays far
below Redis's visibility timeout (checked by ``automations.checks``).
"""

from __future__ import annotations

from typing import TypedDict

from celery import shared_task

from executions import pipeline, services, task_names
from executions.delivery.rollups import delivery_rollups_fold_due


class TaskOptions(TypedDict, total=False):
    acks_late: bool
    reject_on_worker_lost: bool
    ignore_result: bool
    soft_time_limit: int
    time_limit: int


PIPELINE_TASK_OPTIONS: TaskOptions = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}
SWEEP_TASK_OPTIONS: TaskOptions = {"acks_late": False, "ignore_result": True, "soft_time_limit": 40, "time_limit": 50}


@shared_task(name=task_names.MATCH_EVENT, **PIPELINE_TASK_OPTIONS)
def match_event_task(event_id: int) -> None:
    """Create the executions of every rule the event matches; run the first batch here, queue the rest."""
    pipeline.match_events([event_id])


@shared_task(name=task_names.MATCH_EVENTS, **PIPELINE_TASK_OPTIONS)
def match_events_task(event_ids: list[int]) -> None:
    """``match_event_task`` for a batch of events (one ``POST /api/events`` list, say)."""
    pipeline.match_events(event_ids)


@shared_task(name=task_names.MATCH_BACKLOG, **PIPELINE_TASK_OPTIONS)
def match_backlog_task(tenant_ids: list[str]) -> None:
    """A batch of the tenants' waiting events, matched and run on the backlog lane (``AUTOMATIONS["BACKLOG_LANE"]``)."""
    pipeline.match_backlog(tenant_ids)


@shared_task(name=task_names.RUN_EXECUTIONS, **PIPELINE_TASK_OPTIONS)
def run_executions_task(execution_ids: list[int]) -> None:
    """``run_execution_task`` for a batch: one transaction per step, webhook commands sent together."""
    pipeline.run_executions(execution_ids)


@shared_task(name=task_names.RUN_EXECUTION, **PIPELINE_TASK_OPTIONS)
def run_execution_task(execution_id: int) -> None:
    """Evaluate a pending execution and, when cleared, run its action's first attempt."""
    pipeline.run_execution(execution_id)


@shared_task(name=task_names.RUN_ACTION, **PIPELINE_TASK_OPTIONS)
def run_action_task(execution_id: int) -> None:
    """Run the next attempt of an approved or retrying execution's action."""
    pipeline.execution_run_action(execution_id)


@shared_task(name=task_names.SWEEP_OUTBOX, **SWEEP_TASK_OPTIONS)
def sweep_outbox_task() -> dict[str, int]:
    """Re-queue events never matched and executions stuck pending, approved, due for a retry or deferred
    and now due (held by a contact cap, quiet hours or the tenant's execution quota)."""
    return services.sweep_outbox()


@shared_task(name=task_names.SWEEP_LEASES, **SWEEP_TASK_OPTIONS)
def sweep_leases_task() -> dict[str, int]:
    """Reclaim executions left running by a worker that died."""
    return services.sweep_expired_leases()


@shared_task(name=task_names.SEND_DELIVERY, **PIPELINE_TASK_OPTIONS)
def send_and_settle_delivery_task(delivery_id: int) -> None:
    """Send one due webhook delivery (claimed by a guarded update) and settle its execution."""
    services.send_and_settle_delivery(delivery_id)


@shared_task(name=task_names.SEND_DUE_DELIVERIES, **SWEEP_TASK_OPTIONS)
def send_due_deliveries_task() -> dict[str, int]:
    """Send the webhook deliveries whose next attempt is due; settle the executions that ended."""
    return services.send_due_deliveries_and_settle()


@shared_task(name=task_names.PRUNE_HISTORY, **SWEEP_TASK_OPTIONS)
def prune_history_task() -> dict[str, int | bool]:
    """Delete events and metric samples older than AUTOMATIONS["HISTORY_RETENTION_DAYS"], in batches."""
    return services.prune_history().as_dict()


@shared_task(name=task_names.SEND_FAILURE_DIGESTS, **SWEEP_TASK_OPTIONS)
def send_failure_digests_task() -> dict[str, int]:
    """Send the hourly failure digests of tenants that chose them (docs/notifications.md, "Failure notices")."""
    from dataclasses import asdict

    from executions.failure_notices import failure_digests_send

    return asdict(failure_digests_send())


@shared_task(name=task_names.FOLD_DELIVERY_ROLLUPS, **SWEEP_TASK_OPTIONS)
def fold_delivery_rollups_task() -> dict[str, int]:
    """Recount each tenant's recent webhook deliveries into their daily roll-ups (the dashboard's source)."""
    return delivery_rollups_fold_due()
