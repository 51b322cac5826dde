"""The pipeline's steps as services, with tasks run eagerly from on-commit callbacks."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from automations.services import rule_update
from executions.actions import ActionResult
from executions.choices import ApprovalStatus, ExecutionStatus, NotificationKind, TriggerSource
from executions.models import ApprovalRequest, AutomationExecution, Event, Notification
from executions.services import (
    ExecutionConflict,
    emit_event,
    execute_rule_manually,
    execution_approve,
    execution_reject,
    run_execution,
    trigger_rule,
)
from tests.executions.conftest import make_event_rule
from tests.factories import make_user
from tests.overrides import override_automations

PRODUCT = {"product_id": "prod_123", "store_id": "store_456"}


def emit_product_added(tenant, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return emit_event(tenant.pk, "product_added", dict(PRODUCT), source="store", **kwargs)


@pytest.mark.django_db
def test_an_event_becomes_a_complete_execution_log(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    # when
    result = emit_product_added(tenant, django_capture_on_commit_callbacks)

    # then
    execution = AutomationExecution.objects.get()
    assert execution.event_id == result.id
    assert execution.occurrence_key == f"event:{result.id}"
    assert execution.trigger_source == TriggerSource.EVENT
    assert execution.rule_version.version == 1
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.success is True
    assert execution.conditions_met is True
    assert [r["passed"] for r in execution.condition_results] == [True]
    # the context it used: built-ins, the tenant's facts, the event's payload and metadata
    assert execution.trigger_data["store_status"] == "active"
    assert execution.trigger_data["product_id"] == "prod_123"
    assert execution.trigger_data["event"]["type"] == "product_added"
    assert {"now", "date", "time", "weekday"} <= set(execution.trigger_data)
    assert execution.required_approval is False
    assert execution.governance_decision["auto_approved"] is True
    assert execution.action_started_at <= execution.action_completed_at
    assert execution.action_attempts == 1
    command = execution.action_result["command"]
    # no endpoint receives add_product here: recorded only, counted apart from successes
    assert execution.action_result["outcome"] == "recorded" and execution.outcome == "recorded_only"
    assert command["command"] == "product.add"
    assert (command["template_id"], command["count"], command["category"]) == ("holiday_product", 2, "seasonal")
    assert command["idempotency_key"] == f"automation-execution-{execution.pk}"
    assert execution.execution_time_ms > 0
    assert execution.error_message == ""
    event_rule.refresh_from_db()
    assert (event_rule.execution_count, event_rule.success_count, event_rule.failure_count) == (1, 0, 0)
    assert event_rule.recorded_only_count == 1
    assert event_rule.last_triggered_at is not None and event_rule.last_executed_at is not None
    assert Event.objects.get().dispatched_at is not None


@pytest.mark.django_db
def test_conditions_not_met_skip_the_action(tenant, event_rule, django_capture_on_commit_callbacks):
    from executions.models import MetricSample

    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="paused")

    emit_product_added(tenant, django_capture_on_commit_callbacks)

    execution = AutomationExecution.objects.get()
    assert execution.status == ExecutionStatus.SKIPPED and execution.success is False
    assert execution.conditions_met is False
    assert execution.condition_results[0]["passed"] is False
    assert execution.action_result is None and execution.action_attempts == 0
    event_rule.refresh_from_db()
    assert event_rule.execution_count == 0  # only runs whose action ran are counted


@pytest.mark.django_db
def test_only_rules_for_the_type_source_and_tenant_match(
    tenant, other_tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks
):
    make_event_rule(tenant, owner, name="Any source", trigger_config={"event_type": "product_added"})
    make_event_rule(tenant, owner, name="Other source", trigger_config={"event_type": "product_added", "source": "pos"})
    make_event_rule(tenant, owner, name="Other type", trigger_config={"event_type": "order_placed"})
    make_event_rule(tenant, owner, name="Disabled", enabled=False)
    make_event_rule(other_tenant, None, name="Other tenant")

    emit_product_added(tenant, django_capture_on_commit_callbacks)

    names = sorted(AutomationExecution.objects.values_list("automation_rule__name", flat=True))
    assert names == ["Any source", "Restock after a new product"]


@pytest.mark.django_db
def test_a_redelivered_match_or_run_does_nothing_twice(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    from executions.services import match_event

    result = emit_product_added(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = match_event(result.id)
        run_execution(execution.pk)

    assert again.created_execution_ids == [] and again.matched_rule_ids == [event_rule.pk]
    assert callbacks == []
    execution.refresh_from_db()
    assert execution.action_attempts == 1
    assert AutomationExecution.objects.count() == 1


@pytest.mark.django_db
def test_trigger_rule_creates_one_execution_per_occurrence(event_rule, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = trigger_rule(
            event_rule, TriggerSource.SCHEDULER, {"slot": "2026-12-01T09:00"}, "schedule:2026-12-01T09:00"
        )
        second = trigger_rule(
            event_rule, TriggerSource.SCHEDULER, {"slot": "2026-12-01T09:00"}, "schedule:2026-12-01T09:00"
        )

    assert first is not None and first.status == ExecutionStatus.PENDING
    assert second is None
    assert len(callbacks) == 1  # one run_execution task queued, after commit
    assert AutomationExecution.objects.count() == 1


@pytest.mark.django_db
def test_trigger_rule_refuses_an_unknown_trigger_source(event_rule):
    with pytest.raises(ValidationError) as error:
        trigger_rule(event_rule, "cron", {})
    assert "trigger_source" in error.value.message_dict


@pytest.mark.django_db
def test_the_execution_runs_the_rule_version_it_was_triggered_with(
    tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        execution = trigger_rule(event_rule, TriggerSource.EVENT, dict(PRODUCT), "event:manual-1")
    rule_update(event_rule, {"action_config": {"template_id": "spring_product", "count": 9}}, owner)

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.rule_version.version == 1
    assert execution.action_result["command"]["template_id"] == "holiday_product"


# --- governance and approvals --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_risky_rule_waits_for_its_council_and_notifies_it(
    tenant, owner, council_member, risky_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks)

    execution = AutomationExecution.objects.get()
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL and execution.success is None
    assert execution.required_approval is True and execution.action_attempts == 0
    request = ApprovalRequest.objects.get(execution=execution)
    assert request.status == ApprovalStatus.PENDING
    assert request.council.is_default
    assert request.policy_snapshot["member_ids"] == sorted([owner.pk, council_member.pk])
    assert request.policy_snapshot["quorum"] == 1
    assert "council approval" in request.reason
    notified = set(
        Notification.objects.filter(kind=NotificationKind.APPROVAL_REQUESTED).values_list("user_id", flat=True)
    )
    assert notified == {owner.pk, council_member.pk}


@pytest.mark.django_db
def test_approval_continues_the_same_execution_at_the_action(
    tenant, council_member, risky_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        execution_approve(execution, council_member)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.approved_by_user_id == str(council_member.pk)
    assert execution.approved_at is not None
    assert execution.action_attempts == 1
    assert execution.action_result["command"]["command"] == "product.add"
    request = execution.approval_request
    assert (request.status, request.decided_by_id) == (ApprovalStatus.APPROVED, council_member.pk)
    assert AutomationExecution.objects.count() == 1


@pytest.mark.django_db
def test_a_decision_is_taken_once(
    tenant, owner, council_member, risky_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        execution_approve(execution, council_member)

    with pytest.raises(ExecutionConflict):
        execution_approve(execution, owner)
    with pytest.raises(ExecutionConflict):
        execution_reject(execution, owner)
    execution.refresh_from_db()
    assert execution.action_attempts == 1 and execution.approved_by_user_id == str(council_member.pk)


@pytest.mark.django_db
def test_rejecting_ends_the_execution_and_tells_the_owner(
    tenant, owner, council_member, risky_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        execution_reject(execution, council_member, "not during the sale")

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.REJECTED and execution.success is False
    assert "not during the sale" in execution.error_message
    assert execution.action_attempts == 0 and execution.action_result is None
    assert execution.approval_request.status == ApprovalStatus.REJECTED
    assert Notification.objects.filter(user=owner, kind=NotificationKind.EXECUTION_REJECTED).exists()


@pytest.mark.django_db
def test_only_council_members_decide(
    tenant, collaborator, other_owner, risky_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()

    for outsider in (collaborator, other_owner):
        with pytest.raises(PermissionDenied):
            execution_approve(execution, outsider)
        with pytest.raises(PermissionDenied):
            execution_reject(execution, outsider)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL


@pytest.mark.django_db
def test_an_assigned_council_decides_instead_of_the_default(
    tenant, owner, council_member, active_store, django_capture_on_commit_callbacks
):
    from governance.models import Council, CouncilMember

    council = Council.objects.create(tenant=tenant, name="Pricing council")
    dave = make_user("dave", tenant, "council")
    CouncilMember.objects.create(council=council, user=dave)
    make_event_rule(tenant, owner, risk_level="critical", assigned_council=council)
    emit_product_added(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()

    with pytest.raises(PermissionDenied):
        execution_approve(execution, council_member)  # on the default council, not this one
    with django_capture_on_commit_callbacks(execute=True):
        execution_approve(execution, dave)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED


# --- loop protection -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("depth", "status"), [(5, ExecutionStatus.SUCCEEDED), (6, ExecutionStatus.BLOCKED)])
def test_events_past_the_causation_depth_are_blocked(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks, depth, status
):
    emit_product_added(tenant, django_capture_on_commit_callbacks, causation_depth=depth)

    execution = AutomationExecution.objects.get()
    assert execution.status == status
    if status == ExecutionStatus.BLOCKED:
        assert "loop protection" in execution.error_message and "6 actions deep" in execution.error_message
        assert execution.success is False and execution.action_attempts == 0


@pytest.mark.django_db
def test_an_event_caused_by_an_action_is_one_level_deeper(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks, causation_depth=2)
    cause = AutomationExecution.objects.get()

    result = emit_event(tenant.pk, "product_added", {}, source="store", caused_by_execution_id=cause.pk)

    assert Event.objects.get(pk=result.id).causation_depth == 3


@pytest.mark.django_db
@override_automations(MAX_CAUSATION_DEPTH=1)
def test_a_rule_that_feeds_itself_stops_at_the_configured_depth(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    # given an action that emits the event its own rule listens to (a loop), each time about another product
    # (so the chain loop check, one run per rule and subject, lets it through: the depth cap stops it)
    cause_id = None
    for number in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            result = emit_event(
                tenant.pk,
                "product_added",
                {"product_id": f"p_{number}"},
                source="store",
                caused_by_execution_id=cause_id,
            )
        cause = AutomationExecution.objects.get(event_id=result.id)
        if cause.status == ExecutionStatus.BLOCKED:
            break
        cause_id = cause.pk

    statuses = list(AutomationExecution.objects.order_by("id").values_list("status", flat=True))
    assert statuses == [ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED, ExecutionStatus.BLOCKED]


# --- action outcomes -----------------------------------------------------------------------------


def raising_handler(execution, config, deliver):
    raise RuntimeError("the platform said no")


def unknown_outcome_handler(execution, config, deliver):
    return ActionResult.unknown("connection reset", retry_after_seconds=0, command={"key": execution.pk})


def not_a_result_handler(execution, config, deliver):
    return {"ok": True}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("handler", "message"),
    [("raising_handler", "RuntimeError: the platform said no"), ("not_a_result_handler", "not an ActionResult")],
)
def test_a_failing_handler_fails_the_execution_and_tells_the_owner(
    tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks, handler, message
):
    with override_automations(ACTION_HANDLERS={"add_product": f"tests.executions.test_pipeline.{handler}"}):
        emit_product_added(tenant, django_capture_on_commit_callbacks)

    execution = AutomationExecution.objects.get()
    assert execution.status == ExecutionStatus.FAILED and execution.success is False
    assert message in execution.error_message
    assert execution.action_completed_at is not None and execution.action_attempts == 1
    event_rule.refresh_from_db()
    assert (event_rule.execution_count, event_rule.failure_count) == (1, 1)
    assert Notification.objects.filter(user=owner, kind=NotificationKind.EXECUTION_FAILED).count() == 1


@pytest.mark.django_db
@override_automations(
    ACTION_HANDLERS={"add_product": "tests.executions.test_pipeline.unknown_outcome_handler"},
    ACTION_MAX_ATTEMPTS=3,
)
def test_an_unknown_outcome_is_retried_with_the_same_key_until_attempts_run_out(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks)

    # retry_after_seconds=0 re-queues each attempt at once; the third is the last
    execution = AutomationExecution.objects.get()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.action_attempts == 3
    assert execution.action_result["attempt"] == 3 and execution.action_result["command"] == {"key": execution.pk}
    assert "still unknown after 3 attempts" in execution.error_message


def later_handler(execution, config, deliver):
    return ActionResult.unknown("timeout", retry_after_seconds=120)


@pytest.mark.django_db
@override_automations(ACTION_HANDLERS={"add_product": "tests.executions.test_pipeline.later_handler"})
def test_an_unknown_outcome_waits_in_the_database_for_its_next_attempt(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    emit_product_added(tenant, django_capture_on_commit_callbacks)

    execution = AutomationExecution.objects.get()
    assert execution.status == ExecutionStatus.RETRYING and execution.success is None
    assert execution.next_attempt_at > timezone.now() + timezone.timedelta(seconds=100)
    assert execution.action_completed_at is None
    # a stray message before the due time claims nothing
    run_execution(execution.pk)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RETRYING and execution.action_attempts == 1


# --- manual runs ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manual_run_uses_the_callers_context_and_identity(tenant, owner, event_rule):
    execution = execute_rule_manually(event_rule, {"store_status": "active", "user_id": 999}, owner)

    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.trigger_source == TriggerSource.MANUAL
    assert execution.triggered_by_id == owner.pk  # who ran it, as authenticated
    assert execution.trigger_data["user_id"] == 999  # a user_id in the context is only data
    assert execution.occurrence_key is None


@pytest.mark.django_db
def test_a_manual_run_of_a_risky_rule_waits_unless_a_council_member_bypasses(
    tenant, owner, collaborator, council_member, risky_rule
):
    waiting = execute_rule_manually(risky_rule, {"store_status": "active"}, owner)
    assert waiting.status == ExecutionStatus.AWAITING_APPROVAL

    # The policy: only owners run high-risk rules, and only owners bypass approval (docs/api.md).
    with pytest.raises(PermissionDenied):
        execute_rule_manually(risky_rule, {"store_status": "active"}, collaborator)
    with pytest.raises(PermissionDenied):
        execute_rule_manually(risky_rule, {"store_status": "active"}, council_member, bypass_approval=True)

    bypassed = execute_rule_manually(risky_rule, {"store_status": "active"}, owner, bypass_approval=True)
    assert bypassed.status == ExecutionStatus.SUCCEEDED
    assert bypassed.approved_by_user_id == str(owner.pk)
    assert bypassed.governance_decision["bypassed_by_user_id"] == str(owner.pk)
    assert bypassed.required_approval is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"context": ["not", "a", "dict"]}, "context"), ({"bypass_approval": "yes"}, "bypass_approval")],
)
def test_a_manual_run_refuses_bad_input(owner, event_rule, kwargs, field):
    arguments = {"context": {}, **kwargs}
    with pytest.raises(ValidationError) as error:
        execute_rule_manually(event_rule, arguments.pop("context"), owner, **arguments)
    assert field in error.value.message_dict
    assert AutomationExecution.objects.count() == 0


@pytest.mark.django_db
def test_a_rule_disabled_before_its_execution_runs_is_blocked(event_rule, django_capture_on_commit_callbacks):
    from automations.services import rule_set_enabled

    with django_capture_on_commit_callbacks(execute=False):
        execution = trigger_rule(event_rule, TriggerSource.EVENT, {}, "event:x")
    rule_set_enabled(event_rule, False)

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.BLOCKED and "disabled" in execution.error_message


@pytest.mark.django_db
def test_a_stored_definition_that_no_longer_evaluates_fails_the_run_instead_of_looping(
    event_rule, django_capture_on_commit_callbacks
):
    from automations.models import AutomationRule

    # an old row written before today's validators (bypassing them, as a migration might)
    AutomationRule.all_objects.filter(pk=event_rule.pk).update(conditions="store_status = active")
    with django_capture_on_commit_callbacks(execute=True):
        execution = trigger_rule(AutomationRule.objects.get(pk=event_rule.pk), TriggerSource.EVENT, {}, "event:old")

    execution.refresh_from_db()
    assert execution.status in (ExecutionStatus.FAILED, ExecutionStatus.SKIPPED)  # ended either way, never pending
    assert execution.action_attempts == 0


@pytest.mark.django_db
def test_notices_also_go_out_by_email_once(
    tenant, owner, council_member, risky_rule, active_store, mailoutbox, django_capture_on_commit_callbacks
):
    owner.email, council_member.email = "alice@shop.test", "carol@shop.test"
    owner.save()
    council_member.save()

    emit_product_added(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()
    from executions.notifications.notices import notify_users

    again = notify_users(
        [owner.pk], tenant.pk, NotificationKind.APPROVAL_REQUESTED, "again", "", execution.pk, ["email"]
    )

    assert sorted(address for mail in mailoutbox for address in mail.to) == ["alice@shop.test", "carol@shop.test"]
    assert "Approval needed" in mailoutbox[0].subject
    assert again == 0 and len(mailoutbox) == 2
