"""The pipeline in batches (executions.pipeline): the same steps and guarantees as one item at a
time, with webhooks delivered to a real local HTTP server."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automations.models import AutomationRule
from executions.choices import ApprovalStatus, DeliveryStatus, ExecutionStatus, NotificationKind, TriggerSource
from executions.delivery.models import WebhookDelivery
from executions.delivery.services import (
    DeliveryRequest,
    deliveries_claim,
    deliveries_post,
    deliveries_record,
    delivery_create,
    endpoint_create,
    webhook_payload,
)
from executions.models import ApprovalRequest, AutomationExecution, Event, Notification
from executions.pipeline import (
    TriggerRequest,
    executions_create,
    match_events,
    run_executions,
    trigger_rules,
)
from executions.services import emit_events
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply
from tests.factories import make_rule

pytestmark = pytest.mark.django_db


def product_events(tenant, count: int, source: str = "store") -> list[dict]:
    return [
        {"tenant_id": tenant.pk, "event_type": "product_added", "source": source, "payload": {"n": n}}
        for n in range(count)
    ]


def logged(rule, trigger_data=None, key=None) -> TriggerRequest:
    return TriggerRequest(rule, TriggerSource.EVENT, trigger_data or {}, key)


def test_a_list_of_events_becomes_one_delivered_execution_per_matching_rule(
    tenant, owner, active_store, sink, loopback_allowed, settings, django_capture_on_commit_callbacks
):
    # given: two batches' worth of events, a rule for their source and one for another source
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZE": 10}
    store_rule = make_event_rule(tenant, owner)
    make_event_rule(
        tenant, owner, name="Only from the POS", trigger_config={"event_type": "product_added", "source": "pos"}
    )
    endpoint_create(tenant, sink.url())

    # when
    with django_capture_on_commit_callbacks(execute=True):
        results = emit_events(product_events(tenant, 23))

    # then: every event matched once, every execution succeeded with one delivery under its own webhook-id
    executions = list(AutomationExecution.objects.order_by("id"))
    assert [e.automation_rule_id for e in executions] == [store_rule.pk] * 23
    assert {e.event_id for e in executions} == {r.id for r in results}
    assert {e.status for e in executions} == {ExecutionStatus.SUCCEEDED}, {e.error_message for e in executions}
    assert all(e.action_attempts == 1 and e.conditions_met for e in executions)
    assert sorted(r.headers["webhook-id"] for r in sink.requests) == sorted(f"execution_{e.pk}" for e in executions)
    assert len(sink.requests) == len(executions)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 23
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 0
    store_rule.refresh_from_db()
    assert (store_rule.execution_count, store_rule.success_count, store_rule.failure_count) == (23, 23, 0)
    assert store_rule.average_execution_time_ms > 0

    # and a redelivered message finds its events dispatched: nothing more happens
    assert match_events([r.id for r in results]) == []
    assert AutomationExecution.objects.count() == 23
    assert len(sink.requests) == 23


def test_each_execution_of_a_batch_takes_its_own_way(
    tenant, owner, council_member, active_store, sink, loopback_allowed, django_capture_on_commit_callbacks
):
    # given: pending executions of five rules, logged but not run
    delivered = make_event_rule(tenant, owner, name="Delivered")
    unmet = make_event_rule(
        tenant, owner, name="Unmet", conditions=[{"type": "store_status", "operator": "=", "value": "closed"}]
    )
    risky = make_event_rule(tenant, owner, name="Risky", risk_level="high")
    notice = make_event_rule(
        tenant,
        owner,
        name="Notice",
        action_type="send_notification",
        action_config={"recipients": ["owner"], "message": "A product was added"},
    )
    switched_off = make_event_rule(tenant, owner, name="Switched off")
    endpoint_create(tenant, sink.url())
    created = executions_create([logged(rule) for rule in (delivered, unmet, risky, notice, switched_off)])
    switched_off.enabled = False
    switched_off.save(update_fields=["enabled"])

    # when
    with django_capture_on_commit_callbacks(execute=True):
        run_executions([e.pk for e in created])

    # then
    status = dict(AutomationExecution.objects.values_list("automation_rule__name", "status"))
    assert status == {
        "Delivered": ExecutionStatus.SUCCEEDED,
        "Unmet": ExecutionStatus.SKIPPED,
        "Risky": ExecutionStatus.AWAITING_APPROVAL,
        "Notice": ExecutionStatus.SUCCEEDED,
        "Switched off": ExecutionStatus.BLOCKED,
    }
    assert ApprovalRequest.objects.get().status == ApprovalStatus.PENDING
    # the webhook command of the delivered rule went out in the batch; the notice's through its own handler
    assert {r.headers["webhook-id"] for r in sink.requests} == {
        f"execution_{created[0].pk}",
        f"execution_{created[3].pk}",
    }
    assert Notification.objects.filter(user=owner, kind=NotificationKind.AUTOMATION_MESSAGE).exists()
    counts = dict(AutomationExecution.objects.values_list("automation_rule__name", "automation_rule__execution_count"))
    assert counts == {"Delivered": 1, "Unmet": 0, "Risky": 0, "Notice": 1, "Switched off": 0}

    # and running the batch again takes no step twice
    run_executions([e.pk for e in created])
    assert len(sink.requests) == 2
    delivered.refresh_from_db()
    assert delivered.execution_count == 1


def test_a_refused_delivery_leaves_only_its_own_execution_waiting(
    tenant, other_tenant, owner, active_store, sink, other_sink, loopback_allowed, django_capture_on_commit_callbacks
):
    # given: one tenant's platform answers 200, the other's 503
    other_sink.default = Reply(status=503)
    from executions.models import MetricSample

    MetricSample.objects.create(tenant=other_tenant, metric="store_status", value_text="active")
    ours, theirs = make_event_rule(tenant, owner), make_event_rule(other_tenant, None)
    endpoint_create(tenant, sink.url())
    endpoint_create(other_tenant, other_sink.url())
    created = executions_create([logged(ours), logged(theirs), logged(ours)])

    # when
    with django_capture_on_commit_callbacks(execute=True):
        run_executions([e.pk for e in created])

    # then: the 503 is retried later by the delivery schedule; the others are done and counted
    by_id = {e.pk: e for e in AutomationExecution.objects.all()}
    assert [by_id[e.pk].status for e in created] == [
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.RETRYING,
        ExecutionStatus.SUCCEEDED,
    ]
    waiting = by_id[created[1].pk]
    assert waiting.next_attempt_at is not None and "503" in waiting.error_message
    assert WebhookDelivery.objects.get(execution=waiting).status == DeliveryStatus.RETRYING
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.execution_count, theirs.execution_count) == (2, 0)


def test_executions_create_logs_each_occurrence_once(tenant, owner):
    rule = make_event_rule(tenant, owner)
    (first,) = executions_create([logged(rule, key="slot:1")])

    created = executions_create(
        [logged(rule, key="slot:1"), logged(rule, key="slot:2"), logged(rule, key="slot:2"), logged(rule)]
    )

    assert [e.occurrence_key for e in created] == ["slot:2", None]
    assert all(e.pk and e.status == ExecutionStatus.PENDING for e in created)
    assert AutomationExecution.objects.filter(automation_rule=rule).count() == 3
    assert first.rule_version.version == rule.version
    rule.refresh_from_db()
    assert rule.last_triggered_at is not None


def test_keyed_executions_are_logged_by_one_insert_without_a_savepoint(tenant, owner):
    # given: an occurrence already logged
    rule = make_event_rule(tenant, owner)
    executions_create([logged(rule, key="event:1")])

    # when: a batch repeats it and carries one new occurrence twice
    with CaptureQueriesContext(connection) as queries:
        created = executions_create(
            [logged(rule, key="event:1"), logged(rule, key="event:2"), logged(rule, key="event:2")]
        )

    # then: the new one is logged once, by one INSERT whose conflict clause skips the rest (no savepoint)
    assert [e.occurrence_key for e in created] == ["event:2"] and created[0].pk
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements.count("INSERT") == 1 and "SAVEPOINT" not in statements
    assert AutomationExecution.objects.filter(automation_rule=rule).count() == 2


def test_executions_create_one_by_one_where_inserts_return_no_ids(tenant, owner, monkeypatch):
    # A database without INSERT ... RETURNING takes the one-by-one path with the same result.
    rule = make_event_rule(tenant, owner)
    executions_create([logged(rule, key="slot:1")])
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)

    created = executions_create([logged(rule, key="slot:1"), logged(rule, key="slot:2"), logged(rule, key="slot:3")])

    assert [e.occurrence_key for e in created] == ["slot:2", "slot:3"]
    assert AutomationExecution.objects.filter(automation_rule=rule).count() == 3


def test_executions_create_refuses_a_malformed_request_and_logs_nothing(tenant, owner):
    rule = make_event_rule(tenant, owner)

    with pytest.raises(ValidationError) as raised:
        executions_create([logged(rule), TriggerRequest(rule, "telepathy", {})])

    assert "trigger_source" in raised.value.message_dict
    assert AutomationExecution.objects.count() == 0


def test_trigger_rules_runs_what_it_logs(tenant, owner, active_store, django_capture_on_commit_callbacks):
    rules = [make_event_rule(tenant, owner, name=f"Rule {n}") for n in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        created = trigger_rules([logged(rule, {"product_id": "p_1"}, key="k") for rule in rules])

    assert len(created) == 3
    assert set(AutomationExecution.objects.values_list("status", flat=True)) == {ExecutionStatus.SUCCEEDED}


def test_matching_takes_other_waiting_events_up_to_a_batch(
    tenant, owner, active_store, settings, django_capture_on_commit_callbacks
):
    # given: five events stored, none matched yet (their messages not delivered)
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZE": 4}
    make_event_rule(tenant, owner)
    with django_capture_on_commit_callbacks(execute=False):
        results = emit_events(product_events(tenant, 5))

    # when: the first event's message arrives
    created = match_events([results[0].id])

    # then: it takes a batch, its own event first, then the oldest others (PostgreSQL: rows locked SKIP
    # LOCKED; SQLite: under the write lock of BEGIN IMMEDIATE)
    assert len(created) == 4
    assert Event.objects.filter(dispatched_at__isnull=False).count() == 4
    assert [execution.event_id for execution in created] == [result.id for result in results[:4]]


def test_without_an_exclusive_write_lock_sqlite_takes_only_the_messages_events(
    tenant, owner, active_store, settings, django_capture_on_commit_callbacks
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's transaction modes; PostgreSQL tops up with SKIP LOCKED")
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZE": 4}
    make_event_rule(tenant, owner)
    with django_capture_on_commit_callbacks(execute=False):
        results = emit_events(product_events(tenant, 5))
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("transaction_mode")
    options["transaction_mode"] = "DEFERRED"  # another writer could read the same events meanwhile
    try:
        created = match_events([results[0].id])
    finally:
        options["transaction_mode"] = saved
    assert [execution.event_id for execution in created] == [results[0].id]


def test_a_retried_action_finds_its_delivery_and_sends_it_once(tenant, owner, sink, loopback_allowed):
    # given: an execution whose delivery exists already (an earlier attempt), and one without
    rule = make_rule(tenant, owner)
    endpoint = endpoint_create(tenant, sink.url()).endpoint
    retried, fresh = executions_create([logged(rule), logged(rule)])
    payload = webhook_payload(retried, "add_product", {"command": "product.add"})
    existing = delivery_create(retried, endpoint, payload, action_type="add_product")
    requests = [
        DeliveryRequest(retried, endpoint, payload, "add_product"),
        DeliveryRequest(fresh, endpoint, webhook_payload(fresh, "add_product", {}), "add_product"),
    ]

    # when
    with CaptureQueriesContext(connection) as queries:
        claimed = deliveries_claim(requests)
    outcomes = deliveries_record(claimed, deliveries_post(claimed))

    # then: only the new one is claimed and sent in the batch; the retried one is left to its own path
    assert claimed.unclaimed == [0]
    # two statements (the deliveries, their attempts) and no savepoint: the existing pair is skipped by the INSERT
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT", "INSERT"]
    assert list(outcomes) == [1] and outcomes[1].attempted and outcomes[1].succeeded
    assert WebhookDelivery.objects.filter(execution=retried).get() == existing
    assert [r.headers["webhook-id"] for r in sink.requests] == [f"execution_{fresh.pk}"]


def test_rule_totals_add_several_runs_in_one_update(tenant, owner):
    rule = make_rule(tenant, owner)
    AutomationRule.add_runs(rule.pk, 2, 1, 1, 30.0)
    AutomationRule.add_runs(rule.pk, 1, 1, 0, 60.0)

    rule.refresh_from_db()
    assert (rule.execution_count, rule.success_count, rule.failure_count) == (3, 2, 1)
    assert rule.average_execution_time_ms == pytest.approx(30.0)
    assert rule.last_executed_at is not None


def test_a_second_success_is_recorded_as_a_duplicate(tenant, owner, sink, loopback_allowed):
    # given: a delivery whose first attempt is already the recorded success, and a second attempt in flight
    from executions.choices import AttemptOutcome
    from executions.delivery.http import HTTPResult
    from executions.delivery.models import DeliveryAttempt
    from executions.delivery.policy import classify
    from executions.delivery.services.deliveries import _finish_succeeded

    rule = make_rule(tenant, owner)
    endpoint = endpoint_create(tenant, sink.url()).endpoint
    (execution,) = executions_create([logged(rule)])
    delivery = delivery_create(execution, endpoint, webhook_payload(execution, "add_product", {}), action_type="x")
    first = DeliveryAttempt.objects.create(
        delivery=delivery, attempt_number=1, outcome=AttemptOutcome.SUCCEEDED, url="u"
    )
    second = DeliveryAttempt.objects.create(delivery=delivery, attempt_number=2, url="u")
    ok = HTTPResult(status_code=200, duration_ms=3.0, body=b"ok")

    # when
    (outcome,) = _finish_succeeded([(delivery, second)], [ok], [classify(ok)])

    # then: the second is visibly a duplicate, the first stays the one success, and the delivery has ended
    second.refresh_from_db()
    first.refresh_from_db()
    assert (first.outcome, second.outcome) == (AttemptOutcome.SUCCEEDED, AttemptOutcome.DUPLICATE)
    assert outcome.status == DeliveryStatus.SUCCEEDED
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED


def test_a_rule_whose_governance_breaks_fails_alone_and_its_event_is_still_matched(
    tenant, owner, active_store, monkeypatch, django_capture_on_commit_callbacks
):
    # given: one of two rules has a governance bug (simulated: its decision raises)
    from automations.models import AutomationRule

    broken = make_event_rule(tenant, owner, name="Broken")
    healthy = make_event_rule(tenant, owner, name="Healthy")
    decide = AutomationRule.approval_decision

    def approval_decision(rule, context, facts=None):
        if rule.name == "Broken":
            raise RuntimeError("policy bug")
        return decide(rule, context, facts)

    monkeypatch.setattr(AutomationRule, "approval_decision", approval_decision)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        (result,) = emit_events(product_events(tenant, 1))

    # then: the broken rule's execution failed with the reason; the other ran; the event is dispatched
    failed = AutomationExecution.objects.get(automation_rule=broken)
    assert failed.status == ExecutionStatus.FAILED
    assert "governance could not decide: RuntimeError: policy bug" in failed.error_message
    assert AutomationExecution.objects.get(automation_rule=healthy).status == ExecutionStatus.SUCCEEDED
    assert Event.objects.get(pk=result.id).dispatched_at is not None
