"""The execution pipeline: trigger -> log -> conditions -> governance -> action -> record -> notify.

Every state change is a guarded (compare-and-set) UPDATE on the execution's status, never
``select_for_update`` (which SQLite ignores), so a redelivered or duplicated task never takes a step
twice. The states (docs/pipeline.md):

    pending --evaluate--> skipped | blocked | awaiting_approval | running (auto-approved, lease held)
    awaiting_approval --approve--> approved --claim--> running ;  --reject--> rejected
    running --record--> succeeded | failed | retrying (outcome unknown) ;  --lease expiry--> retrying | failed
    retrying --claim (when due)--> running

Evaluation has no side effects outside the database, so it needs no lease: two workers may both
evaluate a pending execution, but only one wins the final ``pending -> ...`` update. It runs outside
any transaction (conditions, governance and fact providers may read much and take long) and only its
record is a write, a short one: no slow work ever holds a write lock (on SQLite, the only one). Only ``running``
(an action attempt in progress) holds a lease, and ``action_attempts`` is the fencing token that
lets the holder, and nobody else, record the attempt's result.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import random
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from automations.governance import trusted_facts
from automations.models import DEFINITION_FIELDS, AutomationRule, RuleVersion
from automations.services import RuleTotals
from automations.validators import errors_by_field, validate_storable
from config.db_locks import write_transaction
from executions.actions import ActionResult, UnknownActionType, get_action_handler
from executions.choices import (
    ActionOutcome,
    ExecutionStatus,
    TriggerSource,
    success_for_status,
)
from executions.models import AutomationExecution, Event
from executions.selectors import user_may_decide
from executions.services.common import execution_ended, load_execution, transition_loaded
from executions.services.context import build_context, json_safe
from executions.services.dispatch import publish_on_commit
from governance import policy
from governance.policy import Capability

logger = logging.getLogger(__name__)


# --- small helpers ---------------------------------------------------------------------------------


def _lease_seconds() -> int:
    return int(settings.AUTOMATIONS_EXECUTION_LEASE_SECONDS)


def rule_as_of(execution: AutomationExecution) -> AutomationRule:
    """The rule as it was defined at the version the execution was created with.

    An approver approves what the rule was when it fired; an edit afterwards does not change what runs.
    """
    rule = execution.automation_rule
    if getattr(rule, "current_version_id", None) == execution.rule_version_id:
        return rule  # logged just now from this rule object (a batch): nothing to read
    version = execution.rule_version
    if version is None or version.version == rule.version or not isinstance(version.definition, dict):
        return rule
    snapshot = copy.copy(rule)
    # TRICKY: a shallow copy shares _state (and its related-object cache) with the live rule.
    snapshot._state = copy.copy(rule._state)
    snapshot._state.fields_cache = {}
    for field in DEFINITION_FIELDS:
        if field in version.definition:
            setattr(snapshot, field, version.definition[field])
    snapshot.version = version.version
    return snapshot


def retry_delay_seconds(attempt: int, requested: float | None = None) -> float:
    """Backoff before attempt ``attempt + 1``: the handler's wish, else base * 2**(attempt-1) with jitter, capped."""
    if requested is not None:
        return max(0.0, float(requested))
    base = float(settings.AUTOMATIONS_ACTION_RETRY_BASE_SECONDS)
    cap = float(settings.AUTOMATIONS_ACTION_RETRY_MAX_SECONDS)
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay * random.uniform(0.8, 1.2)


# --- step 1 and 2: the trigger and the execution log -----------------------------------------------


def _loop_block_reason(event: Event | None) -> str:
    limit = int(settings.AUTOMATIONS_MAX_CAUSATION_DEPTH)
    if event is None or event.causation_depth <= limit:
        return ""
    return (
        f"loop protection: event #{event.pk} is {event.causation_depth} actions deep "
        f"(AUTOMATIONS_MAX_CAUSATION_DEPTH is {limit})"
    )


def _current_version_id(rule: AutomationRule) -> int | None:
    """The id of the rule's current RuleVersion: from ``rules_matching_event``'s annotation, else a lookup."""
    if hasattr(rule, "current_version_id"):
        return rule.current_version_id
    return RuleVersion.objects.filter(rule_id=rule.pk, version=rule.version).values_list("id", flat=True).first()


def check_trigger_arguments(trigger_source: str, trigger_data: object, occurrence_key: object) -> None:
    """Raise ValidationError naming the field when a trigger's arguments are malformed."""
    if trigger_source not in TriggerSource.values:
        raise ValidationError(
            {"trigger_source": [f'"{trigger_source}" is not one of {", ".join(TriggerSource.values)}']}
        )
    if trigger_data is not None and not isinstance(trigger_data, dict):
        raise ValidationError({"trigger_data": ["must be a JSON object"]})
    if occurrence_key is not None and (not isinstance(occurrence_key, str) or not 0 < len(occurrence_key) <= 255):
        raise ValidationError({"occurrence_key": ["must be a string of 1 to 255 characters"]})


def new_execution(
    rule: AutomationRule,
    trigger_source: str,
    trigger_data: dict[str, Any] | None,
    occurrence_key: str | None,
    event: Event | None,
    now: dt.datetime,
    actor_id: int | None = None,
) -> AutomationExecution:
    """The unsaved execution a trigger logs: pending, or blocked by loop protection with the reason.

    Its actor (``triggered_by``) is the event's poster for an event, else ``actor_id`` (a manual run's caller).
    """
    execution = AutomationExecution(
        automation_rule=rule,
        tenant_id=rule.tenant_id,
        event=event,
        occurrence_key=occurrence_key,
        rule_version_id=_current_version_id(rule),
        trigger_source=trigger_source,
        trigger_data=json_safe(trigger_data or {}),
        triggered_at=now,
        triggered_by_id=event.actor_id if event is not None else actor_id,
    )
    block_reason = _loop_block_reason(event)
    execution.set_status(ExecutionStatus.BLOCKED if block_reason else ExecutionStatus.PENDING)
    execution.error_message = block_reason
    return execution


def _create_execution(
    rule: AutomationRule,
    trigger_source: str,
    trigger_data: dict[str, Any] | None,
    occurrence_key: str | None,
    event: Event | None,
    actor_id: int | None = None,
) -> AutomationExecution | None:
    check_trigger_arguments(trigger_source, trigger_data, occurrence_key)
    now = timezone.now()
    execution = new_execution(rule, trigger_source, trigger_data, occurrence_key, event, now, actor_id)
    try:
        with write_transaction():
            execution.save()
    except IntegrityError:
        # The (rule, occurrence_key) unique constraint: this occurrence already has its execution.
        logger.info("rule %s already has an execution for %s", rule.pk, occurrence_key)
        return None
    AutomationRule.all_objects.filter(pk=rule.pk).update(last_triggered_at=now)
    if execution.status == ExecutionStatus.BLOCKED:
        logger.warning("execution %s of rule %s blocked: %s", execution.pk, rule.pk, execution.error_message)
    return execution


def trigger_rule(
    rule: AutomationRule,
    trigger_source: str,
    trigger_data: dict[str, Any] | None,
    occurrence_key: str | None = None,
    event: Event | None = None,
) -> AutomationExecution | None:
    """Log a pending execution of ``rule`` (with its current version) and queue it after commit.

    Returns None when ``occurrence_key`` already has an execution for this rule (the unique
    constraint decides, so concurrent or repeated triggers create one). An execution for an event
    past AUTOMATIONS_MAX_CAUSATION_DEPTH is stored ``blocked`` with the reason and not queued.
    """
    execution = _create_execution(rule, trigger_source, trigger_data, occurrence_key, event)
    if execution is not None and execution.status == ExecutionStatus.PENDING:
        publish_on_commit("run_execution_task", execution.pk)
    return execution


# --- steps 3 and 4: conditions and governance -------------------------------------------------------


@dataclass
class Evaluation:
    """What conditions and governance decided for a pending execution, before it is recorded.

    ``status``: blocked (rule disabled or archived), failed (conditions could not be evaluated),
    skipped, awaiting_approval or running (cleared: its first action attempt is claimed with the
    same update). ``fields``: the plain values that update writes. ``rule``: the rule as of the
    execution's version (what runs).
    """

    status: str
    fields: dict[str, Any]
    rule: AutomationRule
    governance: dict[str, Any] | None = None

    def fields_at(self, now: dt.datetime) -> dict[str, Any]:
        """The values to record at ``now``: a claimed attempt's lease starts when it is recorded, not
        when the (possibly slow) evaluation began."""
        if self.status != ExecutionStatus.RUNNING:
            return self.fields
        lease = timezone.timedelta(seconds=_lease_seconds())
        return {**self.fields, "action_started_at": now, "lease_expires_at": now + lease}


def evaluate_pending(
    execution: AutomationExecution,
    bypass_user: AbstractBaseUser | None = None,
    facts: dict[str, Any] | None = None,
) -> Evaluation:
    """Conditions, then governance, for a pending execution; changes nothing (see ``record_evaluation``).

    ``facts``: the tenant's latest facts when the caller has them (a batch reads them once per tenant).
    Raises DatabaseError on a transient database fault (the execution stays pending for the sweeper).
    """
    started = time.monotonic()
    live_rule = execution.automation_rule
    rule = rule_as_of(execution)

    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000

    if execution.trigger_source != TriggerSource.MANUAL and (live_rule.is_archived or not live_rule.enabled):
        return Evaluation(
            ExecutionStatus.BLOCKED,
            {
                "error_message": "the rule was disabled or archived before this execution ran",
                "execution_time_ms": elapsed_ms(),
            },
            rule,
        )
    context = build_context(rule, execution.trigger_data, facts=facts)
    try:
        results = rule.evaluate_conditions_detailed(context)
        conditions_met = all(result.passed for result in results)
        condition_results = json_safe([result.as_dict() for result in results])
    except DatabaseError:
        raise  # transient: the task fails, the sweeper re-queues the still-pending execution
    except Exception as error:  # a stored definition that no longer evaluates: fail this run, never loop
        logger.exception("rule %s: conditions could not be evaluated for execution %s", rule.pk, execution.pk)
        return Evaluation(
            ExecutionStatus.FAILED,
            {
                "trigger_data": context,
                "error_message": f"the rule's conditions could not be evaluated: {type(error).__name__}: {error}",
                "execution_time_ms": elapsed_ms(),
            },
            rule,
        )
    evaluated = {"trigger_data": context, "conditions_met": conditions_met, "condition_results": condition_results}
    if not conditions_met:
        return Evaluation(ExecutionStatus.SKIPPED, {"execution_time_ms": elapsed_ms(), **evaluated}, rule)

    try:
        # Trusted facts only, never the context: the run's authenticated actor and the server clock now.
        decision = rule.approval_decision(context, trusted_facts(rule, actor_id=execution.triggered_by_id))
    except DatabaseError:
        raise
    except Exception as error:  # a policy that no longer evaluates: fail this run, never hold up a batch
        logger.exception("rule %s: governance could not decide for execution %s", rule.pk, execution.pk)
        return Evaluation(
            ExecutionStatus.FAILED,
            {
                "error_message": f"the rule's governance could not decide: {type(error).__name__}: {error}",
                "execution_time_ms": elapsed_ms(),
                **evaluated,
            },
            rule,
        )
    governance = decision.as_dict()
    now = timezone.now()
    if bypass_user is not None:
        governance["bypassed_by_user_id"] = str(bypass_user.pk)
        approval = {"approved_by_user_id": str(bypass_user.pk), "approved_at": now}
    elif decision.auto_approved:
        approval = {}
    else:
        return Evaluation(
            ExecutionStatus.AWAITING_APPROVAL,
            {
                "required_approval": True,
                "governance_decision": governance,
                "execution_time_ms": elapsed_ms(),
                **evaluated,
            },
            rule,
            governance,
        )
    return Evaluation(
        ExecutionStatus.RUNNING,
        {
            "required_approval": not decision.auto_approved,
            "governance_decision": governance,
            "execution_time_ms": elapsed_ms(),
            "action_started_at": now,
            "lease_expires_at": now + timezone.timedelta(seconds=_lease_seconds()),
            **approval,
            **evaluated,
        },
        rule,
        governance,
    )


def record_evaluation(execution: AutomationExecution, evaluation: Evaluation) -> bool:
    """Record ``evaluation`` with one guarded ``pending -> ...`` update; True for the caller that won it.

    Awaiting approval also opens the council's approval request (in one transaction with the update).
    Running claims the first action attempt in the same update: a pending row's ``action_attempts``
    never changes (no step leads back to pending), so the winner knows the new value without reading
    it back, and ``execution`` in memory is left as the claim left it. Nothing here evaluates: call it
    after ``evaluate_pending``, outside the evaluation's time.
    """
    pending = [ExecutionStatus.PENDING]
    fields = evaluation.fields_at(timezone.now())
    if evaluation.status == ExecutionStatus.AWAITING_APPROVAL:
        from executions.services.approvals import approval_request_open

        with write_transaction():
            won = transition_loaded(execution, pending, evaluation.status, **fields)
            if won:
                approval_request_open(execution, evaluation.rule, evaluation.governance)
        return won
    if evaluation.status != ExecutionStatus.RUNNING:
        return transition_loaded(execution, pending, evaluation.status, **fields)
    attempt = execution.action_attempts + 1
    won = transition_loaded(execution, pending, evaluation.status, action_attempts=F("action_attempts") + 1, **fields)
    if won:
        execution.action_attempts = attempt
    return won


def _evaluate(execution: AutomationExecution, bypass_user: AbstractBaseUser | None = None) -> AutomationExecution:
    """Evaluate a pending execution and record it; run its action's first attempt when cleared."""
    evaluation = evaluate_pending(execution, bypass_user)
    if not record_evaluation(execution, evaluation):
        return load_execution(execution.pk)  # type: ignore[return-value]
    if evaluation.status == ExecutionStatus.RUNNING:
        return _run_claimed_attempt(execution, evaluation.rule)
    if evaluation.status == ExecutionStatus.AWAITING_APPROVAL:
        return load_execution(execution.pk)  # type: ignore[return-value]
    return execution


# --- steps 5 to 7: the action, the record, the notices -----------------------------------------------


def _call_handler(execution: AutomationExecution, rule: AutomationRule) -> ActionResult:
    """Run the action's handler; a handler that raises or returns nonsense is a failed attempt."""
    try:
        handler = get_action_handler(rule.action_type)
        config = rule.action_config if isinstance(rule.action_config, dict) else {}
        result = handler(execution, dict(config))
    except UnknownActionType as error:
        return ActionResult.failed(str(error))
    except SoftTimeLimitExceeded:
        # TRICKY: cut off mid-call, the command may or may not have gone out: the outcome is unknown.
        return ActionResult.unknown("the action ran past its time limit; its outcome is unknown")
    except Exception as error:  # the handler boundary: a bug in a handler fails its execution, not the worker
        logger.exception("action handler %s failed for execution %s", rule.action_type, execution.pk)
        return ActionResult.failed(f"{type(error).__name__}: {error}")
    if not isinstance(result, ActionResult) or result.outcome not in ActionOutcome.values:
        return ActionResult.failed(f"the {rule.action_type} handler returned {result!r}, not an ActionResult")
    return result


def _perform_action(execution_id: int) -> AutomationExecution:
    """Run one claimed attempt of the action and record its result, if this worker still holds the claim."""
    execution = load_execution(execution_id)
    if execution is None or execution.status != ExecutionStatus.RUNNING:
        return execution  # type: ignore[return-value]  (reclaimed meanwhile: nothing of ours to run)
    return _run_claimed_attempt(execution, rule_as_of(execution))


def _run_claimed_attempt(execution: AutomationExecution, rule: AutomationRule) -> AutomationExecution:
    """Run the attempt this caller has just claimed (``execution`` is in memory as the claim left it)."""
    token = execution.action_attempts
    started = time.monotonic()
    result = _call_handler(execution, rule)
    elapsed_ms = (time.monotonic() - started) * 1000
    return _record_result(execution, rule, token, result, elapsed_ms)


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

    Succeeded and failed end the run. An unknown outcome is retried with the same idempotency key after
    a backoff while attempts remain, else fails; open webhook deliveries leave it ``retrying`` until the
    delivery schedule settles it.
    """
    now = timezone.now()
    total_ms = (execution.execution_time_ms or 0.0) + elapsed_ms
    max_attempts = int(settings.AUTOMATIONS_ACTION_MAX_ATTEMPTS)
    next_attempt_at = None
    completed_at = now
    if result.outcome == ActionOutcome.SUCCEEDED:
        status, error = ExecutionStatus.SUCCEEDED, ""
    elif result.outcome == ActionOutcome.FAILED:
        status, error = ExecutionStatus.FAILED, result.error or "the action failed"
    elif result.awaiting_delivery:
        # The webhook deliveries are open: their own schedule retries them and settles the execution.
        status, error = ExecutionStatus.RETRYING, result.error or "webhook delivery pending"
        next_attempt_at = result.delivery_next_attempt_at
        completed_at = None
    elif token < max_attempts:
        status = ExecutionStatus.RETRYING
        error = f"attempt {token}: {result.error or 'outcome unknown'}; retrying with the same idempotency key"
        next_attempt_at = now + timezone.timedelta(seconds=retry_delay_seconds(token, result.retry_after_seconds))
        completed_at = None
    else:
        status = ExecutionStatus.FAILED
        error = f"the outcome is still unknown after {token} attempts: {result.error or 'no detail'}"
    fields = {
        "action_result": json_safe({**result.as_dict(), "action_type": rule.action_type, "attempt": token}),
        "action_completed_at": completed_at,
        "error_message": error,
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


def _after_recorded(execution: AutomationExecution, record: ResultRecord, totals: RuleTotals | None) -> None:
    """What follows a recorded result, in its transaction: an ended run's totals and notice, a due retry."""
    if record.ended:
        succeeded = record.status == ExecutionStatus.SUCCEEDED
        execution_ended(
            execution, succeeded, record.fields["execution_time_ms"], record.fields["error_message"], totals
        )
    if record.retry_now:
        publish_on_commit("run_action_task", execution.pk)


def _record_result(
    execution: AutomationExecution, rule: AutomationRule, token: int, result: ActionResult, elapsed_ms: float
) -> AutomationExecution:
    """Record attempt ``token``'s result if this caller still holds it; an ended run counts in the rule's totals."""
    record = result_record(execution, rule, token, result, elapsed_ms)
    with write_transaction():
        # The fencing token: only the holder of attempt ``token`` may record it.
        won = transition_loaded(
            execution, [ExecutionStatus.RUNNING], record.status, extra_filter=Q(action_attempts=token), **record.fields
        )
        if not won:
            _log_lost_attempt(execution, token)
            return load_execution(execution.pk)  # type: ignore[return-value]
        _after_recorded(execution, record, None)
    if record.awaiting_delivery:
        # A sweeper may have finished the deliveries while this attempt was still running (it could not
        # settle a running execution then): settle now. Guarded, so only one caller records the end.
        from executions.services.deliveries import execution_settle_deliveries

        execution_settle_deliveries(execution.pk)
        return load_execution(execution.pk)  # type: ignore[return-value]
    return execution


def _log_lost_attempt(execution: AutomationExecution, token: int) -> None:
    logger.warning(
        "execution %s: attempt %s lost its lease before recording; its result is dropped", execution.pk, token
    )


def record_results(records: list[tuple[AutomationExecution, ResultRecord]]) -> None:
    """``_record_result`` for a batch (call inside a transaction): one fenced update for all, totals once
    per rule; executions whose deliveries are still open are settled after commit."""
    from executions.services.rows import update_rows

    now = timezone.now()
    rows = [
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
    won = update_rows(
        AutomationExecution, rows, keys=("id", "action_attempts"), where={"status": [ExecutionStatus.RUNNING]}
    )
    totals = RuleTotals()
    settle: list[int] = []
    for (execution, record), row in zip(records, rows, strict=True):
        if execution.pk not in won:
            _log_lost_attempt(execution, record.token)
            continue
        _apply(execution, row)
        _after_recorded(execution, record, totals)
        if record.awaiting_delivery:
            settle.append(execution.pk)
    totals.record()
    if settle:
        from executions.services.deliveries import execution_settle_deliveries

        for execution_id in settle:
            transaction.on_commit(partial(execution_settle_deliveries, execution_id))


def record_evaluations(pairs: list[tuple[AutomationExecution, Evaluation]]) -> set[int]:
    """``record_evaluation`` for a batch with one guarded ``pending -> ...`` update; returns the ids won.

    Not for evaluations awaiting approval (they open an approval request each: ``record_evaluation``).
    A field one evaluation sets and another does not keeps the other's current value (a pending row
    changes only by being evaluated). The winners in memory are left as the update left them.
    """
    from executions.services.rows import update_rows

    now = timezone.now()
    names = sorted({name for _execution, evaluation in pairs for name in evaluation.fields})
    rows = []
    for execution, evaluation in pairs:
        fields = evaluation.fields_at(now)
        row = {name: fields.get(name, getattr(execution, name)) for name in names}
        row.update(
            id=execution.pk,
            status=evaluation.status,
            success=success_for_status(evaluation.status),
            updated_at=now,
            # Running claims the first action attempt (a pending row's count never changes).
            action_attempts=execution.action_attempts + (evaluation.status == ExecutionStatus.RUNNING),
        )
        rows.append(row)
    won = update_rows(AutomationExecution, rows, where={"status": [ExecutionStatus.PENDING]})
    for (execution, _evaluation), row in zip(pairs, rows, strict=True):
        if execution.pk in won:
            _apply(execution, row)
    return won


def _apply(execution: AutomationExecution, row: dict[str, Any]) -> None:
    """Set on the in-memory execution the values an update has just written to its row."""
    for name, value in row.items():
        setattr(execution, name, value)


def execution_run_action(execution_id: int) -> AutomationExecution | None:
    """Claim and run the next action attempt of an approved, or due retrying, execution.

    Returns the execution as it is afterwards (unchanged when it was not this caller's to run).
    """
    now = timezone.now()
    claimed = AutomationExecution.objects.filter(
        Q(status=ExecutionStatus.APPROVED) | Q(status=ExecutionStatus.RETRYING, next_attempt_at__lte=now),
        pk=execution_id,
    ).update(
        status=ExecutionStatus.RUNNING,
        success=None,
        action_attempts=F("action_attempts") + 1,
        action_started_at=Coalesce("action_started_at", Value(now)),
        lease_expires_at=now + timezone.timedelta(seconds=_lease_seconds()),
        next_attempt_at=None,
        updated_at=now,
    )
    if claimed != 1:
        return load_execution(execution_id)
    return _perform_action(execution_id)


def run_execution(execution_id: int) -> AutomationExecution | None:
    """Take the execution as far as it can go now: evaluate a pending one, run a cleared action.

    Safe to call any number of times: each step is claimed by a guarded update.
    """
    execution = load_execution(execution_id)
    if execution is None:
        return None
    if execution.status == ExecutionStatus.PENDING:
        return _evaluate(execution)
    if execution.status in (ExecutionStatus.APPROVED, ExecutionStatus.RETRYING):
        return execution_run_action(execution_id)
    return execution


def execute_rule_manually(
    rule: AutomationRule,
    context: dict[str, Any] | None,
    user: AbstractBaseUser,
    bypass_approval: bool = False,
) -> AutomationExecution:
    """Run ``rule`` now with the caller's context, in this request, up to the action's first attempt.

    A run a caller starts is always ``manual`` and its actor (``triggered_by``) is ``user``, whom
    trusted_users_only checks; the context is data for the conditions only. With
    ``bypass_approval`` the governance step is skipped; only a member of the rule's council (or the
    tenant's default council) may do that. PermissionDenied unless the policy lets ``user`` run the rule
    (and bypass approval).
    """
    from governance.selectors import default_council

    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise ValidationError({"context": ["must be a JSON object"]})
    unstorable = validate_storable(context, "context")
    if unstorable:
        raise ValidationError(errors_by_field(unstorable))
    if not isinstance(bypass_approval, bool):
        raise ValidationError({"bypass_approval": ["must be true or false"]})
    policy.check(user, rule.tenant_id, Capability.RUN, rule.risk_level)
    if bypass_approval:
        policy.check(user, rule.tenant_id, Capability.BYPASS_APPROVAL, rule.risk_level)
        council_id = rule.assigned_council_id
        if council_id is None:
            council = default_council(rule.tenant_id)
            council_id = council.pk if council is not None else None
        if not user_may_decide(council_id, user):
            raise PermissionDenied("only a member of the rule's council may bypass approval")
    execution = _create_execution(rule, TriggerSource.MANUAL, context, None, None, actor_id=user.pk)
    assert execution is not None  # no occurrence key, so no unique conflict
    return _evaluate(load_execution(execution.pk), bypass_user=user if bypass_approval else None)  # type: ignore[arg-type]
