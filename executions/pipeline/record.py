"""Steps 6 and 7: record attempts' results, and what follows a run that ended.

``record_results`` writes every result of a batch (one, or many) with one fenced ``running -> ...``
UPDATE (``status = running AND action_attempts = <the attempt's token>``): a worker that lost its lease
cannot overwrite a later attempt. An ended run (succeeded, failed) counts once in its rule's totals and
a failure tells the tenant's owners (``execution_ended``); a due retry is queued; an execution whose
webhook deliveries are still open waits ``retrying`` and is settled after commit, and again by the
delivery sweeper, when its deliveries end (``execution_settle_deliveries``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from automations.models import AutomationRule
from automations.services import RuleTotals
from executions import rows, task_names
from executions.actions import ActionResult
from executions.breakers import breakers_check
from executions.choices import ActionOutcome, ExecutionStatus, FailureKind, success_for_status
from executions.context import json_safe
from executions.delivery.models import WebhookDelivery
from executions.delivery.selectors import execution_delivery_summary
from executions.dispatch import publish_on_commit
from executions.failure_notices import failure_notice_on_commit
from executions.failures import failure_kind_for
from executions.models import AutomationExecution
from executions.monitoring import count_action_ended
from executions.pipeline.batch import apply_row
from executions.retries import action_may_retry, action_retry_delay_seconds
from executions.rollups import RollupCounts
from executions.transitions import load_execution, transition_loaded

logger = logging.getLogger(__name__)


@dataclass
class ResultRecord:
    """How attempt ``token``'s result is recorded: the status it leads to and the values written."""

    token: int
    status: str
    fields: dict[str, Any]
    awaiting_delivery: bool
    retry_now: bool  # a retry that is due at once: queue run_action after commit

    @property
    def ended(self) -> bool:
        return self.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)


def result_record(
    execution: AutomationExecution, rule: AutomationRule, token: int, result: ActionResult, elapsed_ms: float
) -> ResultRecord:
    """Decide how attempt ``token``'s result is recorded (no database access).

    Succeeded and failed end the run; recorded (nothing received the command) ends it ``succeeded`` with
    ``recorded_only`` set, the one place that outcome is decided. An unknown outcome is retried with the
    same idempotency key after a backoff while attempts remain, else fails; open webhook deliveries leave
    it ``retrying`` until the delivery schedule settles it. ``execution_time_ms`` adds ``elapsed_ms``
    (this item's own action time) to what the execution had (its evaluation, earlier attempts).
    """
    now = timezone.now()
    total_ms = (execution.execution_time_ms or 0.0) + elapsed_ms
    next_attempt_at: dt.datetime | None = None
    completed_at: dt.datetime | None = now
    recorded_only = result.outcome == ActionOutcome.RECORDED
    if result.outcome == ActionOutcome.SUCCEEDED or recorded_only:
        # Recorded only: no error, but nothing received the command; its own outcome (ExecutionOutcome).
        status, error = ExecutionStatus.SUCCEEDED, ""
    elif result.outcome == ActionOutcome.FAILED:
        status, error = ExecutionStatus.FAILED, result.error or "the action failed"
    elif result.awaiting_delivery:
        # The webhook deliveries are open: their own schedule retries them and settles the execution.
        status, error = ExecutionStatus.RETRYING, result.error or "webhook delivery pending"
        next_attempt_at = result.delivery_next_attempt_at
        completed_at = None
    elif action_may_retry(token):
        status = ExecutionStatus.RETRYING
        error = f"attempt {token}: {result.error or 'outcome unknown'}; retrying with the same idempotency key"
        next_attempt_at = now + dt.timedelta(seconds=action_retry_delay_seconds(token, result.retry_after_seconds))
        completed_at = None
    else:
        status = ExecutionStatus.FAILED
        error = f"the outcome is still unknown after {token} attempts: {result.error or 'no detail'}"
    fields = {
        "recorded_only": recorded_only,
        "action_result": json_result(result, rule.action_type, token),
        "action_completed_at": completed_at,
        "error_message": error,
        # An error the classifier does not recognise came from the action itself.
        "failure_kind": failure_kind_for(status, error, default=FailureKind.ACTION_ERROR),
        "execution_time_ms": total_ms,
        "lease_expires_at": None,
        "next_attempt_at": next_attempt_at,
    }
    retry_now = (
        status == ExecutionStatus.RETRYING
        and not result.awaiting_delivery
        and next_attempt_at is not None
        and next_attempt_at <= now
    )
    return ResultRecord(token, status, fields, result.awaiting_delivery, retry_now)


def json_result(result: ActionResult, action_type: str, token: int) -> Any:
    return json_safe({**result.as_dict(), "action_type": action_type, "attempt": token})


def record_results(records: list[tuple[AutomationExecution, ResultRecord]]) -> set[int]:
    """Record attempts' results (call inside a transaction): one fenced update for all, totals once per
    rule; executions whose deliveries are still open are settled after commit. Returns the ids recorded."""
    now = timezone.now()
    written = [
        {
            "id": execution.pk,
            "action_attempts": record.token,
            "status": record.status,
            "success": success_for_status(record.status),
            "updated_at": now,
            **record.fields,
        }
        for execution, record in records
    ]
    # The fencing token: only the holder of attempt ``token`` records it (key column action_attempts).
    won = rows.update_rows(
        AutomationExecution, written, keys=("id", "action_attempts"), where={"status": [ExecutionStatus.RUNNING]}
    )
    totals = RuleTotals()
    rollups = RollupCounts()
    for (execution, record), row in zip(records, written, strict=True):
        if execution.pk not in won:
            logger.warning(
                "execution %s: attempt %s lost its lease before recording; its result is dropped",
                execution.pk,
                record.token,
                extra=execution.log_fields,
            )
            continue
        apply_row(execution, row)
        if record.ended:
            succeeded = record.status == ExecutionStatus.SUCCEEDED
            execution_ended(
                execution,
                succeeded,
                record.fields["execution_time_ms"],
                totals,
                recorded_only=record.fields["recorded_only"],
                rollups=rollups,
            )
        if record.retry_now:
            publish_on_commit(task_names.RUN_ACTION, execution.pk)
        if record.awaiting_delivery:
            # A sweeper may have finished the deliveries while this attempt ran (it cannot settle a
            # running execution): settle once this commits. Guarded, so only one caller records the end.
            transaction.on_commit(partial(execution_settle_deliveries, execution.pk))
    breakers_check(totals.record())  # the rule rows first, then what the breaker writes
    rollups.record()  # after the rule rows: one lock order everywhere (executions.rollups)
    return won


def execution_ended(
    execution: AutomationExecution,
    succeeded: bool,
    execution_time_ms: float,
    totals: RuleTotals | None = None,
    *,
    recorded_only: bool = False,
    rollups: RollupCounts | None = None,
) -> None:
    """What follows a run that ended (succeeded, recorded only, or failed), in the transaction that recorded it.

    The run counts in its rule's totals (``totals``: a batch's sums, written once per rule by the
    batch; else one update now), a recorded-only run apart from successes, in its daily roll-up
    (``rollups``: the batch's, recorded by the batch after its totals; else now), and a failure is counted in
    its rule's failure notice to the tenant's owners after commit (``failure_notices``: one per rule and window).
    The totals move the rule's failures in a row; whoever writes them (the batch, or this call) then lets the
    circuit breaker pause a rule that reached its tenant's limit (``executions.breakers``).
    """
    recorded_only = recorded_only and succeeded
    status = ExecutionStatus.SUCCEEDED if succeeded else ExecutionStatus.FAILED
    count_action_ended(execution, succeeded, recorded_only=recorded_only)
    own_totals, own_rollups = totals is None, rollups is None
    totals = RuleTotals() if totals is None else totals
    rollups = RollupCounts() if rollups is None else rollups
    totals.add(execution.automation_rule_id, succeeded, execution_time_ms, recorded_only)
    rollups.add(execution, status, execution_time_ms, recorded_only)
    if own_totals:
        breakers_check(totals.record())
    if own_rollups:
        rollups.record()
    if not succeeded:
        # One notice per rule and window that counts the failures, not one per failure.
        failure_notice_on_commit(execution)


def execution_settle_deliveries(execution_id: int) -> AutomationExecution | None:
    """Move a ``retrying`` execution to what its webhook deliveries add up to; returns it as it is after.

    Deliveries still open: the execution stays ``retrying`` with ``next_attempt_at`` = the earliest due
    delivery. All delivered: ``succeeded``. All ended and one failed: ``failed`` with the deliveries'
    errors. An execution in any other state (running, already settled, or ended before a manual
    redelivery) is left alone. One guarded update decides, so only one caller records the end.
    """
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
        # In memory too: execution_ended counts the execution as it ended (its failure kind included).
        won = transition_loaded(
            execution,
            [ExecutionStatus.RETRYING],
            summary.status,
            action_result=action_result,
            action_completed_at=now,
            error_message=error,
            next_attempt_at=None,
            lease_expires_at=None,
        )
        if won:
            execution_ended(execution, succeeded, execution.execution_time_ms or 0.0)
    return load_execution(execution_id)
