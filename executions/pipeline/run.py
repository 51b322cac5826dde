"""The pipeline, one path for one execution or many: evaluate and govern, claim, act, record.

``run_loaded`` takes executions as far as they can go now: pending ones are evaluated outside any
transaction (``evaluate``), then one short transaction records the evaluations (``record_evaluations``),
claims the next attempt of approved or due retrying ones (``claim_attempts``) and inserts the cleared
attempts' webhook deliveries claimed (``prepare_attempts``); after it commits the actions run and every
result is recorded in one more transaction (``run_attempts``). Every way in uses it: matched events, the
listeners' executions (``run_executions``), one queued execution or a sweeper's re-run
(``run_execution``, ``execution_run_action``), an approval (``execution_run_action`` on commit) and a
manual run (``execute_rule_manually``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError

from automations.models import AutomationRule
from automations.validators import errors_by_field, validate_storable
from executions.choices import ExecutionStatus, TriggerSource
from executions.models import AutomationExecution
from executions.pipeline.act import claim_attempts, prepare_attempts, run_attempts
from executions.pipeline.batch import load_executions
from executions.pipeline.create import TriggerRequest, executions_create
from executions.pipeline.evaluate import Evaluation, evaluate, record_evaluations, rule_as_of
from executions.pipeline.hold import (
    HOLDABLE_WAITING,
    block_inactive_deferred,
    decide_holds,
    hold_evaluation,
    hold_now,
    hold_waiting,
    note_shadow_hold,
    waiting_due,
)
from executions.selectors import user_may_decide
from executions.transitions import load_execution
from governance import policy
from governance.common.db_locks import write_transaction
from governance.roles import Capability
from governance.selectors import default_council

WAITING = (ExecutionStatus.APPROVED, ExecutionStatus.RETRYING, ExecutionStatus.DEFERRED)


def apply_holds(evaluated: list[tuple[AutomationExecution, Evaluation]]) -> None:
    """Hold cleared evaluations a contact cap or the tenant's quota keeps back (throttled or deferred, before they
    are recorded); a shadow run only records the hold it would have met (``executions.pipeline.hold``)."""
    cleared = [(e, ev) for e, ev in evaluated if ev.status == ExecutionStatus.RUNNING]
    holds = decide_holds([(execution, evaluation.rule) for execution, evaluation in cleared])
    for execution, evaluation in cleared:
        if execution.pk in holds:
            hold_evaluation(evaluation, holds[execution.pk])
    shadowed = [(e, ev) for e, ev in evaluated if ev.status == ExecutionStatus.SHADOWED]
    would_hold = decide_holds([(execution, evaluation.rule) for execution, evaluation in shadowed], shadow=True)
    for execution, evaluation in shadowed:
        if execution.pk in would_hold:
            note_shadow_hold(evaluation, would_hold[execution.pk])


def run_loaded(executions: list[AutomationExecution], bypass_user: User | None = None) -> None:
    """Take the executions (loaded, in memory) as far as they can go now; leaves them as it moved them.

    ``bypass_user``: a manual run's council member who skips the governance step.
    """
    pending = [execution for execution in executions if execution.status == ExecutionStatus.PENDING]
    waiting = [execution for execution in executions if execution.status in WAITING]
    if not pending and not waiting:
        return
    evaluated = evaluate(pending, bypass_user)  # outside every write transaction (docs/pipeline.md §4)
    with write_transaction():
        now = hold_now()
        apply_holds(evaluated)
        won = record_evaluations(evaluated)
        cleared = [
            (execution, evaluation.rule)
            for execution, evaluation in evaluated
            if execution.pk in won and evaluation.status == ExecutionStatus.RUNNING
        ]
        holdable = waiting_due(block_inactive_deferred([e for e in waiting if e.status in HOLDABLE_WAITING]), now)
        holds = decide_holds([(execution, rule_as_of(execution)) for execution in holdable])
        unheld = hold_waiting(holdable, holds)
        retrying = [execution for execution in waiting if execution.status == ExecutionStatus.RETRYING]
        cleared.extend(claim_attempts([*unheld, *retrying], deferred_due_by=now))
        prepared = prepare_attempts(cleared)
    run_attempts(prepared)


def run_executions(execution_ids: list[int]) -> list[AutomationExecution]:
    """Run a batch of executions (``run_loaded``); returns them as this call left them in memory."""
    executions = load_executions(execution_ids)
    run_loaded(executions)
    return executions


def run_execution(execution_id: int) -> AutomationExecution | None:
    """``run_executions`` for one: evaluate a pending execution, run a cleared or due action; returns it after.

    Safe to call any number of times: each step is claimed by a guarded update.
    """
    run_executions([execution_id])
    return load_execution(execution_id)


def execution_run_action(execution_id: int) -> AutomationExecution | None:
    """Claim and run the next action attempt of an approved, or due retrying, execution; returns it after.

    Any other state is left alone (it was not this caller's to run).
    """
    executions = [e for e in load_executions([execution_id]) if e.status in WAITING]
    run_loaded(executions)
    return load_execution(execution_id)


def execute_rule_manually(
    rule: AutomationRule,
    context: dict[str, Any] | None,
    user: User,
    bypass_approval: bool = False,
) -> AutomationExecution:
    """Run ``rule`` now with the caller's context, in this request, up to the action's first attempt.

    A run a caller starts is always ``manual`` and its actor (``triggered_by``) is ``user``, whom
    trusted_users_only checks; the context is data for the conditions only. With
    ``bypass_approval`` the governance step is skipped; only a member of the rule's council (or the
    tenant's default council) may do that. PermissionDenied unless the policy lets ``user`` run the rule
    (and bypass approval).
    """
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
    with write_transaction():
        created = executions_create([TriggerRequest(rule, TriggerSource.MANUAL, context, actor_id=user.pk)])
    execution_id = created[0].pk  # no occurrence key, so no unique conflict
    run_loaded(load_executions([execution_id]), bypass_user=user if bypass_approval else None)
    return load_execution(execution_id)  # type: ignore[return-value]
