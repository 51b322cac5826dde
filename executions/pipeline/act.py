"""Step 5, the action: claim attempts, build commands, deliver them, run in-process kinds.

An action kind (``executions.actions``) is either a command the pipeline delivers to the tenant's
1..N webhook endpoints for the kind, or an in-process run that receives ``deliver(command)``.

- ``claim_attempts``: the next attempt of approved or due retrying executions, one guarded UPDATE each
  (``status``, ``action_attempts`` unchanged since read: the fencing token goes up by one).
- ``prepare_attempts`` (inside the transaction that claimed them, or recorded the evaluations that
  cleared them): builds each command kind's command and inserts its deliveries already claimed, with
  their in-flight attempt rows, so they are committed before anything is sent.
- ``run_attempts`` (after that commit): POSTs every claimed delivery in parallel, sends deliveries that
  already existed (a retried action) on their own claim, runs in-process kinds, then records every
  delivery attempt and every result in one transaction (``record.record_results``).

``deliver_command`` is the same delivery for one command, with its own two short transactions: what an
in-process run's ``deliver`` does.

``execution_time_ms`` gains each attempt's own action time: building its command plus its own webhook
POSTs (parallel POSTs of other items in the batch do not count), or the in-process run's time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import Q
from django.utils import timezone

from automations.models import AutomationRule
from executions.actions import (
    ActionEntry,
    ActionHandler,
    ActionResult,
    UnknownActionType,
    build_command,
    get_action_entry,
)
from executions.actions.trigger import without_trigger_payload
from executions.choices import NOT_DELIVERED, ActionOutcome, ExecutionStatus
from executions.delivery.models import WebhookEndpoint
from executions.delivery.services import (
    DeliveryClaims,
    DeliveryOutcome,
    DeliveryRequest,
    deliveries_claim,
    deliveries_post,
    deliveries_record,
    delivery_create_and_send,
    endpoints_for_action,
    webhook_payload,
)
from executions.delivery.services.deliveries import webhook_id_for_execution
from executions.models import AutomationExecution
from executions.pipeline.batch import apply_row
from executions.pipeline.evaluate import lease_seconds, rule_as_of
from executions.pipeline.record import execution_settle_deliveries, record_results, result_record
from governance import quotas
from governance.common.db_locks import write_transaction

logger = logging.getLogger(__name__)


def not_delivered(action_type: str, command: dict[str, Any]) -> ActionResult:
    """The result of a command no enabled endpoint receives: recorded only, with the reason in words."""
    return ActionResult.recorded(
        command=command,
        delivery=NOT_DELIVERED,
        reason=f"No enabled webhook endpoint receives {action_type} commands: the command was only recorded.",
    )


@dataclass
class Attempt:
    """One claimed action attempt: what runs it, and (once known) its result and own action time."""

    execution: AutomationExecution
    rule: AutomationRule
    config: dict[str, Any]
    entry: ActionEntry | None = None
    command: dict[str, Any] | None = None
    requests: list[int] = field(default_factory=list)  # indexes of its deliveries in ClaimedAttempts.deliveries
    result: ActionResult | None = None
    elapsed_ms: float = 0.0


@dataclass
class ClaimedAttempts:
    """Attempts a transaction has claimed, with their deliveries inserted claimed, to run once it commits."""

    attempts: list[Attempt] = field(default_factory=list)
    deliveries: DeliveryClaims = field(default_factory=lambda: DeliveryClaims([], {}))


@dataclass
class Sent:
    """What ``send_deliveries`` did: POST results of claimed deliveries, outcomes of the others, times."""

    posted: dict[int, Any]
    outcomes: dict[int, DeliveryOutcome]
    durations_ms: dict[int, float]


def claim_attempts(
    executions: list[AutomationExecution], deferred_due_by: dt.datetime | None = None
) -> list[tuple[AutomationExecution, AutomationRule]]:
    """Claim the next action attempt of each approved, due retrying or due deferred execution; those this
    caller won. ``deferred_due_by``: the moment a deferred run must be due by (the holds' clock; now)."""
    now = timezone.now()
    deferred_due = Q(status=ExecutionStatus.DEFERRED, next_attempt_at__lte=deferred_due_by or now)
    lease_until = now + dt.timedelta(seconds=lease_seconds())
    claimed = []
    for execution in executions:
        fields = {
            "status": ExecutionStatus.RUNNING,
            "success": None,
            "action_attempts": execution.action_attempts + 1,
            "action_started_at": execution.action_started_at or now,
            "lease_expires_at": lease_until,
            "next_attempt_at": None,
            "updated_at": now,
        }
        won = AutomationExecution.objects.filter(
            Q(status=ExecutionStatus.APPROVED)
            | Q(status=ExecutionStatus.RETRYING, next_attempt_at__lte=now)
            | deferred_due,
            pk=execution.pk,
            action_attempts=execution.action_attempts,
        ).update(**fields)
        if won == 1:
            apply_row(execution, fields)
            claimed.append((execution, rule_as_of(execution)))
        elif execution.quota_counted_at is not None:
            # another worker claimed (and counted) it: give back the start the hold step counted
            quotas.execution_quota_release(execution.tenant_id, execution.quota_counted_at)
    return claimed


def _config(rule: AutomationRule) -> dict[str, Any]:
    return dict(rule.action_config) if isinstance(rule.action_config, dict) else {}


def _add_requests(
    requests: list[DeliveryRequest],
    endpoints: dict[tuple[str, str], list[WebhookEndpoint]],
    execution: AutomationExecution,
    action_type: str,
    command: dict[str, Any],
) -> list[int]:
    """Append the command's delivery to each of the tenant's endpoints for the kind; their indexes.

    The envelope is built once for the execution (and once more without the trigger's payload when an
    endpoint leaves it out); each delivery stores its own, so every retry sends the same bytes.
    """
    key = (execution.tenant_id, action_type)
    if key not in endpoints:
        endpoints[key] = endpoints_for_action(*key)
    payload = webhook_payload(execution, action_type, command)
    without_payload: dict[str, Any] | None = None
    indexes = []
    for endpoint in endpoints[key]:
        body = payload
        if not endpoint.include_trigger_payload:
            if without_payload is None:
                without_payload = webhook_payload(execution, action_type, without_trigger_payload(command))
            body = without_payload
        indexes.append(len(requests))
        requests.append(DeliveryRequest(execution, endpoint, body, action_type))
    return indexes


def prepare_attempts(claimed: list[tuple[AutomationExecution, AutomationRule]]) -> ClaimedAttempts:
    """Build the claimed attempts' commands and claim their deliveries (call inside the claiming transaction)."""
    prepared = ClaimedAttempts()
    requests: list[DeliveryRequest] = []
    endpoints: dict[tuple[str, str], list[WebhookEndpoint]] = {}
    for execution, rule in claimed:
        started = time.monotonic()
        attempt = Attempt(execution, rule, _config(rule))
        prepared.attempts.append(attempt)
        try:
            attempt.entry = get_action_entry(rule.action_type)
        except UnknownActionType as error:
            attempt.result = ActionResult.failed(str(error))
            continue
        if attempt.entry.command is None:
            continue  # an in-process run: after commit, in run_attempts
        attempt.command, attempt.result = build_command(attempt.entry, execution, attempt.config)
        if attempt.command is not None:
            attempt.requests = _add_requests(requests, endpoints, execution, rule.action_type, attempt.command)
            if not attempt.requests:
                attempt.result = not_delivered(rule.action_type, attempt.command)
        attempt.elapsed_ms += (time.monotonic() - started) * 1000
    prepared.deliveries = deliveries_claim(requests)
    return prepared


def _settle_execution(outcome: DeliveryOutcome) -> None:
    """A late webhook answer was recorded: settle the execution it carries."""
    execution_settle_deliveries(outcome.execution_id)


def send_deliveries(claims: DeliveryClaims) -> Sent:
    """POST the claimed deliveries in parallel (no transaction open); send the others (deliveries that
    already existed: a retried action) on their own claim, as they stand."""
    posted = deliveries_post(claims, on_late_outcome=_settle_execution) if claims.claims else {}
    sent = Sent(posted, {}, {index: float(result.duration_ms) for index, (result, _verdict) in posted.items()})
    for index in claims.unclaimed:
        request = claims.requests[index]
        started = time.monotonic()
        sent.outcomes[index] = delivery_create_and_send(
            request.execution, request.endpoint, request.payload, action_type=request.action_type
        )
        sent.durations_ms[index] = (time.monotonic() - started) * 1000
    return sent


def record_deliveries(claims: DeliveryClaims, sent: Sent) -> dict[int, DeliveryOutcome]:
    """Record the POSTed attempts (call inside a transaction); every request's outcome by index (a POST
    still in flight: its delivery as claimed, open)."""
    outcomes = deliveries_record(claims, sent.posted) if claims.claims else {}
    outcomes.update(sent.outcomes)
    return outcomes


def command_result(execution_id: int, command: dict[str, Any], outcomes: list[DeliveryOutcome]) -> ActionResult:
    """The action's result from its deliveries' outcomes: all delivered -> succeeded; any still open ->
    delivering (the execution waits ``retrying``); else one failed for good -> failed."""
    data = {
        "command": command,
        "webhook_id": webhook_id_for_execution(execution_id),
        "deliveries": [
            {"id": o.delivery_id, "status": str(o.status), "status_code": o.status_code, "error": o.error}
            for o in outcomes
        ],
    }
    errors = "; ".join(f"delivery {o.delivery_id}: {o.error}" for o in outcomes if o.error) or "not delivered yet"
    open_outcomes = [o for o in outcomes if o.retrying]
    if open_outcomes:
        next_attempt_at = min((o.next_attempt_at for o in open_outcomes if o.next_attempt_at), default=None)
        return ActionResult.delivering(
            f"webhook delivery pending: {errors}", next_attempt_at, delivery="retrying", **data
        )
    if any(o.failed for o in outcomes):
        return ActionResult.failed(f"webhook delivery failed: {errors}", delivery="failed", **data)
    return ActionResult.succeeded(delivery="delivered", **data)


def deliver_command(execution: AutomationExecution, action_type: str, command: dict[str, Any]) -> ActionResult:
    """Deliver one command to the tenant's endpoints for ``action_type`` now; the action's result.

    The same steps as a batch's commands: deliveries inserted claimed (one short transaction), POSTed,
    recorded (one more). An in-process run's ``deliver``.
    """
    requests: list[DeliveryRequest] = []
    indexes = _add_requests(requests, {}, execution, action_type, command)
    if not indexes:
        return not_delivered(action_type, command)
    with write_transaction():
        claims = deliveries_claim(requests)
    sent = send_deliveries(claims)
    with write_transaction():
        outcomes = record_deliveries(claims, sent)
    return command_result(execution.pk, command, [outcomes[index] for index in indexes])


def call_run(
    entry: ActionEntry, execution: AutomationExecution, action_type: str, config: dict[str, Any]
) -> ActionResult:
    """Call an in-process run with its ``deliver``; one that raises or returns nonsense is a failed attempt."""
    assert entry.run is not None
    try:
        result = entry.run(execution, config, partial(deliver_command, execution, action_type))
    except SoftTimeLimitExceeded:
        # TRICKY: cut off mid-call, the command may or may not have gone out: the outcome is unknown.
        return ActionResult.unknown("the action ran past its time limit; its outcome is unknown")
    except Exception as error:  # the kind's boundary: a bug in a run fails its execution, not the worker
        logger.exception("action %s failed for execution %s", action_type, execution.pk, extra=execution.log_fields)
        return ActionResult.failed(f"{type(error).__name__}: {error}")
    if not isinstance(result, ActionResult) or result.outcome not in ActionOutcome.values:
        return ActionResult.failed(f"the {action_type} handler returned {result!r}, not an ActionResult")
    return result


def get_action_handler(key: str) -> ActionHandler:
    """Run action kind ``key`` for one execution, as the pipeline runs it: ``(execution, config) -> ActionResult``.

    For a command kind, builds the command and delivers it; for an in-process run, calls it with a
    ``deliver`` for that execution. Raises UnknownActionType listing the known types.
    """
    entry = get_action_entry(key)

    def handler(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
        return run_action_kind(entry, execution, config)

    handler.__name__ = f"action_{key}"
    return handler


def run_action_kind(entry: ActionEntry, execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Run an action kind for one execution outside the pipeline's bookkeeping (``get_action_handler``)."""
    if entry.run is not None:
        return call_run(entry, execution, entry.key, config)
    command, failed = build_command(entry, execution, config)
    if command is None:
        return failed  # type: ignore[return-value]
    return deliver_command(execution, entry.key, command)


def run_attempts(prepared: ClaimedAttempts) -> None:
    """Run claimed attempts after their transaction committed, then record every result in one transaction."""
    if not prepared.attempts:
        return
    sent = send_deliveries(prepared.deliveries)
    for attempt in prepared.attempts:
        if attempt.result is None and attempt.entry is not None and attempt.entry.run is not None:
            started = time.monotonic()
            attempt.result = call_run(attempt.entry, attempt.execution, attempt.rule.action_type, attempt.config)
            attempt.elapsed_ms += (time.monotonic() - started) * 1000
    with write_transaction():
        outcomes = record_deliveries(prepared.deliveries, sent)
        records = []
        for attempt in prepared.attempts:
            if attempt.result is None:
                assert attempt.command is not None
                attempt.result = command_result(
                    attempt.execution.pk, attempt.command, [outcomes[index] for index in attempt.requests]
                )
                attempt.elapsed_ms += sum(sent.durations_ms.get(index, 0.0) for index in attempt.requests)
            token = attempt.execution.action_attempts
            records.append(
                (
                    attempt.execution,
                    result_record(attempt.execution, attempt.rule, token, attempt.result, attempt.elapsed_ms),
                )
            )
        record_results(records)
