"""The sweepers: the outbox sweeper re-queues lost wake-ups, the lease sweeper reclaims dead workers' runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from executions.choices import ExecutionStatus, NotificationKind, TriggerSource
from executions.models import AutomationExecution, Event, Notification
from executions.services import emit_event, execution_approve, sweep_expired_leases, sweep_outbox, trigger_rule
from executions.transitions import transition
from tests.overrides import override_automations

LATER = dt.timedelta(seconds=120)


def lose_callbacks(capture):
    """Run the block's on-commit callbacks into the void: the broker 'lost' the messages."""
    return capture(execute=False)


@pytest.mark.django_db
def test_an_event_whose_message_was_lost_is_matched_by_the_sweeper(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    with lose_callbacks(django_capture_on_commit_callbacks):
        result = emit_event(tenant.pk, "product_added", {}, source="store")
        fresh = emit_event(tenant.pk, "product_added", {}, source="store")
    Event.objects.filter(pk=fresh.id).update(received_at=timezone.now() + LATER)  # too young to sweep

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_outbox(now=timezone.now() + LATER, older_than_seconds=60)

    assert counts["events_requeued"] == 1  # the young event is not re-queued ...
    execution = AutomationExecution.objects.get(event_id=result.id)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert Event.objects.get(pk=result.id).dispatched_at is not None
    # ... though the matching task tops its batch up with waiting events and takes it along
    assert Event.objects.get(pk=fresh.id).dispatched_at is not None
    assert AutomationExecution.objects.count() == 2


@pytest.mark.django_db
def test_a_requeued_event_is_not_requeued_again_within_the_window(tenant, django_capture_on_commit_callbacks):
    with lose_callbacks(django_capture_on_commit_callbacks):
        emit_event(tenant.pk, "product_added", {})
        later = timezone.now() + LATER
        first = sweep_outbox(now=later, older_than_seconds=60)
        second = sweep_outbox(now=later + dt.timedelta(seconds=1), older_than_seconds=60)
        third = sweep_outbox(now=later + dt.timedelta(seconds=61), older_than_seconds=60)

    assert (first["events_requeued"], second["events_requeued"], third["events_requeued"]) == (1, 0, 1)


@pytest.mark.django_db
def test_executions_stuck_pending_or_approved_are_requeued(
    tenant, council_member, event_rule, risky_rule, active_store, django_capture_on_commit_callbacks
):
    with lose_callbacks(django_capture_on_commit_callbacks):
        pending = trigger_rule(event_rule, TriggerSource.EVENT, {}, "event:a")
    with django_capture_on_commit_callbacks(execute=True):
        awaiting = trigger_rule(risky_rule, TriggerSource.EVENT, {}, "event:b")
    awaiting.refresh_from_db()
    assert awaiting.status == ExecutionStatus.AWAITING_APPROVAL
    with lose_callbacks(django_capture_on_commit_callbacks):
        execution_approve(awaiting, council_member)

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_outbox(now=timezone.now() + LATER, older_than_seconds=60)

    assert (counts["pending_requeued"], counts["approved_requeued"]) == (1, 1)
    for execution in (pending, awaiting):
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCEEDED and execution.action_attempts == 1


def claim_and_die(execution, lease_ago=dt.timedelta(seconds=5)):
    """What a worker killed mid-action leaves: running, one attempt started, the lease in the past."""
    now = timezone.now()
    transition(
        execution.pk,
        [ExecutionStatus.PENDING],
        ExecutionStatus.RUNNING,
        action_attempts=F("action_attempts") + 1,
        action_started_at=now - lease_ago,
        lease_expires_at=now - lease_ago,
    )


@pytest.mark.django_db
def test_a_dead_workers_action_is_retried_once_its_lease_expires_with_the_same_key(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    with lose_callbacks(django_capture_on_commit_callbacks):
        execution = trigger_rule(event_rule, TriggerSource.EVENT, {"store_status": "active"}, "event:a")
        alive = trigger_rule(event_rule, TriggerSource.EVENT, {"store_status": "active"}, "event:b")
    claim_and_die(execution)
    claim_and_die(alive, lease_ago=-dt.timedelta(seconds=30))  # lease still valid: hands off

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_expired_leases()

    assert counts == {"leases_retried": 1, "leases_failed": 0, "errors": 0}
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.action_attempts == 2 and execution.action_result["attempt"] == 2
    assert execution.action_result["command"]["idempotency_key"] == f"automation-execution-{execution.pk}"
    alive.refresh_from_db()
    assert alive.status == ExecutionStatus.RUNNING


@pytest.mark.django_db
@override_automations(ACTION_MAX_ATTEMPTS=1)
def test_a_dead_workers_action_with_no_attempts_left_fails_and_tells_the_owner(
    tenant, owner, event_rule, django_capture_on_commit_callbacks
):
    with lose_callbacks(django_capture_on_commit_callbacks):
        execution = trigger_rule(event_rule, TriggerSource.EVENT, {}, "event:a")
    claim_and_die(execution)

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_expired_leases()

    assert counts["leases_failed"] == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and "outcome is unknown" in execution.error_message
    event_rule.refresh_from_db()
    assert event_rule.failure_count == 1
    assert Notification.objects.filter(user=owner, kind=NotificationKind.EXECUTION_FAILED).exists()


@pytest.mark.django_db
def test_a_late_result_from_a_reclaimed_attempt_is_dropped(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    from executions.actions import ActionResult
    from executions.pipeline import execution_run_action
    from executions.pipeline.record import record_results, result_record

    with lose_callbacks(django_capture_on_commit_callbacks):
        execution = trigger_rule(event_rule, TriggerSource.EVENT, {}, "event:a")
        claim_and_die(execution)
        sweep_expired_leases()  # attempt 1 reclaimed, retry queued (and lost)
        execution_run_action(execution.pk)  # attempt 2 runs and succeeds
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED

    # the first worker wakes up and tries to record attempt 1
    with transaction.atomic():
        recorded = record_results(
            [(execution, result_record(execution, event_rule, 1, ActionResult.failed("late"), 1.0))]
        )
    assert recorded == set()

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.action_result["attempt"] == 2


@pytest.mark.django_db
def test_a_retry_comes_due_and_is_queued_by_the_outbox_sweeper(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    with lose_callbacks(django_capture_on_commit_callbacks):
        execution = trigger_rule(event_rule, TriggerSource.EVENT, {}, "event:a")
        claim_and_die(execution)
        sweep_expired_leases()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RETRYING
    AutomationExecution.objects.filter(pk=execution.pk).update(
        next_attempt_at=timezone.now() + dt.timedelta(seconds=30)
    )

    with django_capture_on_commit_callbacks(execute=True):
        not_yet = sweep_outbox(older_than_seconds=60)
    # 30 seconds later: the backoff has passed since the attempt was recorded
    now = timezone.now()
    AutomationExecution.objects.filter(pk=execution.pk).update(
        updated_at=now - dt.timedelta(seconds=31), next_attempt_at=now - dt.timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        due = sweep_outbox(older_than_seconds=60)

    assert (not_yet["retries_queued"], due["retries_queued"]) == (0, 1)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.action_attempts == 2
