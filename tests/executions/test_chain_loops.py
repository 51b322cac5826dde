"""Loop protection that knows the chain (executions/pipeline/chains.py): a rule runs once per subject within one
causal chain of actions, read from the stored caused_by_execution links, and a refusal says why."""

from __future__ import annotations

import pytest

from executions.choices import ExecutionStatus, FailureKind
from executions.failures import failure_explanation
from executions.models import AutomationExecution, Event
from executions.pipeline.chains import causal_chain, subject_of
from executions.services import emit_event
from tests.executions.conftest import make_event_rule
from tests.overrides import override_automations

pytestmark = pytest.mark.django_db


def emit(tenant, capture, event_type, payload, cause=None, **kwargs):
    with capture(execute=True):
        result = emit_event(tenant.pk, event_type, payload, source="store", caused_by_execution_id=cause, **kwargs)
    return result.id


def execution_for(event_id: int, rule) -> AutomationExecution:
    return AutomationExecution.objects.get(event_id=event_id, automation_rule=rule)


@pytest.fixture
def ping_pong(tenant, owner, active_store):
    """Rule A answers product_added with a command whose receiver emits product_updated; rule B answers
    product_updated with one whose receiver emits product_added: each re-triggers the other."""
    a = make_event_rule(tenant, owner, name="A: restock")
    b = make_event_rule(
        tenant, owner, name="B: retag", trigger_config={"event_type": "product_updated", "source": "store"}
    )
    return a, b


def test_two_rules_that_trigger_each_other_are_refused_on_the_second_pass(
    tenant, ping_pong, django_capture_on_commit_callbacks
):
    a, b = ping_pong
    capture = django_capture_on_commit_callbacks
    product = {"product_id": "p_9"}

    # given: a runs for a product, its receiver's event runs b, whose receiver's event comes back to a
    first = execution_for(emit(tenant, capture, "product_added", product), a)
    second = execution_for(emit(tenant, capture, "product_updated", product, cause=first.pk), b)
    back_event = emit(tenant, capture, "product_added", product, cause=second.pk)

    # then a's second pass for the same product in the same chain is refused, naming its first run
    again = execution_for(back_event, a)
    assert (first.status, second.status) == (ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED)
    assert (again.status, again.failure_kind, again.success) == (ExecutionStatus.BLOCKED, FailureKind.CHAIN_LOOP, False)
    assert again.action_attempts == 0
    assert 'the rule "A: restock" already ran for product_id p_9' in again.error_message
    assert f"as execution #{first.pk}" in again.error_message
    assert f"event #{back_event} was caused by execution #{second.pk}" in again.error_message
    explanation = failure_explanation(again.failure_kind, again.status, again.error_message)
    assert explanation is not None and explanation.cause.startswith("Loop protection stopped it: the rule")
    assert "break the loop" in explanation.next_step


def test_another_subject_in_the_chain_may_run(tenant, ping_pong, django_capture_on_commit_callbacks):
    a, b = ping_pong
    capture = django_capture_on_commit_callbacks
    first = execution_for(emit(tenant, capture, "product_added", {"product_id": "p_1"}), a)
    second = execution_for(emit(tenant, capture, "product_updated", {"product_id": "p_2"}, cause=first.pk), b)

    later = execution_for(emit(tenant, capture, "product_added", {"product_id": "p_2"}, cause=second.pk), a)

    assert later.status == ExecutionStatus.SUCCEEDED


def test_the_customer_is_the_subject_before_any_payload_key(tenant, ping_pong, django_capture_on_commit_callbacks):
    a, b = ping_pong
    capture = django_capture_on_commit_callbacks
    first = execution_for(emit(tenant, capture, "product_added", {"product_id": "p_1"}, customer_id="c_1"), a)
    second = execution_for(
        emit(tenant, capture, "product_updated", {"product_id": "p_2"}, cause=first.pk, customer_id="c_1"), b
    )

    # another product, but the same customer: refused
    again = execution_for(
        emit(tenant, capture, "product_added", {"product_id": "p_3"}, cause=second.pk, customer_id="c_1"), a
    )

    assert (again.status, again.failure_kind) == (ExecutionStatus.BLOCKED, FailureKind.CHAIN_LOOP)
    assert "already ran for customer_id c_1" in again.error_message


def test_without_a_subject_the_rule_alone_counts(tenant, ping_pong, django_capture_on_commit_callbacks):
    a, b = ping_pong
    capture = django_capture_on_commit_callbacks
    first = execution_for(emit(tenant, capture, "product_added", {}), a)
    second = execution_for(emit(tenant, capture, "product_updated", {}, cause=first.pk), b)

    again = execution_for(emit(tenant, capture, "product_added", {}, cause=second.pk), a)

    assert again.failure_kind == FailureKind.CHAIN_LOOP
    assert "the event names no subject, so the rule alone" in again.error_message


def test_a_new_chain_runs_the_same_rule_for_the_same_subject(tenant, ping_pong, django_capture_on_commit_callbacks):
    a, _ = ping_pong
    capture = django_capture_on_commit_callbacks
    execution_for(emit(tenant, capture, "product_added", {"product_id": "p_1"}), a)

    # an event nobody's action caused starts a chain of its own
    fresh = execution_for(emit(tenant, capture, "product_added", {"product_id": "p_1"}), a)

    assert fresh.status == ExecutionStatus.SUCCEEDED


def test_the_chain_is_read_from_stored_rows_not_from_the_payload(tenant, ping_pong, django_capture_on_commit_callbacks):
    a, _ = ping_pong
    capture = django_capture_on_commit_callbacks
    first = execution_for(emit(tenant, capture, "product_added", {"product_id": "p_1"}), a)

    # a payload claiming a cause is data: without the stored link the event starts a chain of its own
    forged = emit(
        tenant, capture, "product_added", {"product_id": "p_1", "caused_by_execution_id": first.pk, "event": {}}
    )

    assert execution_for(forged, a).status == ExecutionStatus.SUCCEEDED
    assert causal_chain(Event.objects.get(pk=forged)) == []


@override_automations(CHAIN_SUBJECT_KEYS=["sku"])
def test_the_subject_keys_are_a_setting():
    assert subject_of("", {"product_id": "p_1", "sku": "S-1"}) == "sku S-1"
    assert subject_of("", {"product_id": "p_1"}) is None
    assert subject_of("c_9", {"sku": "S-1"}) == "customer_id c_9"
    assert subject_of("", {"sku": True}) is None  # a flag names nothing


@override_automations(MAX_CAUSATION_DEPTH=2)
def test_the_walk_is_bounded_by_the_depth_cap(tenant, owner, active_store, django_capture_on_commit_callbacks):
    rule = make_event_rule(tenant, owner)
    capture = django_capture_on_commit_callbacks
    cause = None
    for number in range(3):  # a chain of other subjects, depths 0, 1, 2
        event_id = emit(tenant, capture, "product_added", {"product_id": f"p_{number}"}, cause=cause)
        cause = execution_for(event_id, rule).pk

    chain = causal_chain(Event.objects.get(pk=event_id))

    assert [link.subject for link in chain] == ["product_id p_1", "product_id p_0"]
    assert len(chain) <= 3
