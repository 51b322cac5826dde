"""Two members deciding at once, and two workers running one execution at once: one wins, once.

Transactional tests with threads, each on its own database connection, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from executions.choices import ExecutionStatus, TriggerSource
from executions.models import ApprovalRequest, AutomationExecution
from executions.services import (
    ExecutionConflict,
    emit_event,
    execution_approve,
    execution_reject,
    run_execution,
    trigger_rule,
)
from tests.executions.workers import race
from tests.factories import make_user


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["approve", "reject"])
def test_two_members_deciding_at_once_make_one_decision(
    tenant, owner, council_member, risky_rule, active_store, second
):
    emit_event(tenant.pk, "product_added", {}, source="store")
    execution = AutomationExecution.objects.get()
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL
    other = execution_approve if second == "approve" else execution_reject

    outcomes = race(
        lambda: execution_approve(AutomationExecution.objects.get(pk=execution.pk), council_member),
        lambda: other(AutomationExecution.objects.get(pk=execution.pk), owner),
    )

    winners = [o for o in outcomes if isinstance(o, AutomationExecution)]
    losers = [o for o in outcomes if isinstance(o, ExecutionConflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    execution.refresh_from_db()
    request = ApprovalRequest.objects.get()
    if execution.status == ExecutionStatus.SUCCEEDED:
        assert request.status == "approved" and execution.action_attempts == 1
    else:
        assert execution.status == ExecutionStatus.REJECTED and request.status == "rejected"
        assert execution.action_attempts == 0


@pytest.mark.django_db(transaction=True)
def test_many_approvers_at_once_run_the_action_once(tenant, owner, council_member, risky_rule, active_store):
    members = [owner, council_member] + [make_user(f"member{i}", tenant, "council") for i in range(3)]
    emit_event(tenant.pk, "product_added", {}, source="store")
    execution_id = AutomationExecution.objects.get().pk

    outcomes = race(
        *[lambda m=m: execution_approve(AutomationExecution.objects.get(pk=execution_id), m) for m in members]
    )

    assert sum(isinstance(o, AutomationExecution) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, AutomationExecution | ExecutionConflict) for o in outcomes)
    assert not any(isinstance(o, PermissionDenied) for o in outcomes)
    execution = AutomationExecution.objects.get(pk=execution_id)
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.action_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_execution_take_each_step_once(tenant, event_rule, active_store):
    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # keep trigger_rule's own dispatch out of it: we are the workers
    try:
        from executions.dispatch import mark_broker_down

        mark_broker_down()  # publishing is skipped: only the racing calls below run the execution
        execution = trigger_rule(event_rule, TriggerSource.EVENT, {}, "event:race")
        outcomes = race(*[lambda: run_execution(execution.pk) for _ in range(4)])
    finally:
        app.conf.task_always_eager = eager
        from executions.dispatch import reset_broker_state

        reset_broker_state()

    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.action_attempts == 1
    event_rule.refresh_from_db()
    assert event_rule.execution_count == 1
