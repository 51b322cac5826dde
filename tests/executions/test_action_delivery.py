"""Actions reach the platform: event -> execution -> signed webhook to a real local HTTP server, retries,
permanent refusals, redelivery, in-process handlers, and send_notification through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from executions.choices import AttemptOutcome, DeliveryStatus, ExecutionStatus, NotificationKind
from executions.delivery.models import DeliveryAttempt, WebhookDelivery
from executions.delivery.services import delivery_redeliver, endpoint_create
from executions.delivery.signing import verify
from executions.models import AutomationExecution, Notification
from executions.periodic import PERIODIC_TASKS
from executions.services import emit_event, sweep_outbox
from executions.services.delivery_settlement import execution_settle_deliveries, send_due_deliveries_and_settle
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply
from tests.executions.notifications.test_channels import smtp_server  # noqa: F401  (fixture)

PRODUCT = {"product_id": "p_1", "name": "Winter hat"}


@pytest.fixture
def created_endpoint(tenant, sink, loopback_allowed):
    return endpoint_create(tenant, sink.url(), action_type="add_product", description="platform")


def emit(tenant, capture, key: str = "evt-1"):
    with capture(execute=True):
        return emit_event(tenant.pk, "product_added", dict(PRODUCT), source="store", idempotency_key=key)


def only_execution(rule) -> AutomationExecution:
    (execution,) = AutomationExecution.objects.filter(automation_rule=rule)
    return execution


def make_due(delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


def test_an_event_becomes_a_signed_webhook_verified_with_the_documented_recipe(
    tenant, owner, event_rule, active_store, sink, created_endpoint, django_capture_on_commit_callbacks
):
    # when
    emit(tenant, django_capture_on_commit_callbacks)

    # then
    execution = only_execution(event_rule)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    assert len(sink.requests) == 1
    request = sink.requests[0]
    verify(created_endpoint.secret, request.headers, request.body)  # raises if the signature is wrong
    assert request.headers["webhook-id"] == f"execution_{execution.pk}"
    body = json.loads(request.body)
    assert body["type"] == "automation.action.add_product"
    command = body["data"]["command"]
    assert (command["command"], command["template_id"], command["count"], command["category"]) == (
        "product.add",
        "holiday_product",
        2,
        "seasonal",
    )
    assert command["idempotency_key"] == f"automation-execution-{execution.pk}"
    assert execution.action_result["delivery"] == "delivered"
    assert execution.action_result["webhook_id"] == f"execution_{execution.pk}"
    event_rule.refresh_from_db()
    assert (event_rule.execution_count, event_rule.success_count) == (1, 1)


def test_500_then_200_retries_in_the_database_and_counts_the_execution_once(
    tenant, owner, event_rule, active_store, sink, created_endpoint, django_capture_on_commit_callbacks
):
    # given
    sink.reply(Reply(status=500, body=b"boom"))

    # when: the first attempt gets a 500
    emit(tenant, django_capture_on_commit_callbacks)

    # then: the execution waits, with the next attempt time stored
    execution = only_execution(event_rule)
    delivery = WebhookDelivery.objects.get(execution=execution)
    assert execution.status == ExecutionStatus.RETRYING
    assert delivery.status == DeliveryStatus.RETRYING
    assert execution.next_attempt_at is not None and execution.next_attempt_at == delivery.next_attempt_at
    event_rule.refresh_from_db()
    assert event_rule.execution_count == 0

    # when: the sweep finds nothing due yet, and the outbox sweeper leaves the execution to the deliveries
    assert send_due_deliveries_and_settle()["attempted"] == 0
    assert sweep_outbox(now=timezone.now() + dt.timedelta(hours=1), older_than_seconds=0)["retries_queued"] == 0
    # when: the retry falls due and the delivery sweeper sends it
    make_due(delivery.pk)
    counts = send_due_deliveries_and_settle()

    # then
    assert counts["succeeded"] == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.success is True
    assert execution.next_attempt_at is None and execution.action_completed_at is not None
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("attempt_number"))
    assert [(a.status_code, a.outcome) for a in attempts] == [
        (500, AttemptOutcome.RETRYABLE),
        (200, AttemptOutcome.SUCCEEDED),
    ]
    assert {r.headers["webhook-id"] for r in sink.requests} == {f"execution_{execution.pk}"}
    assert sink.requests[0].body == sink.requests[1].body

    # when: everything that could settle it again runs again
    execution_settle_deliveries(execution.pk)
    send_due_deliveries_and_settle()
    sweep_outbox(now=timezone.now() + dt.timedelta(hours=1), older_than_seconds=0)

    # then: counted once
    event_rule.refresh_from_db()
    assert (event_rule.execution_count, event_rule.success_count, event_rule.failure_count) == (1, 1, 0)
    assert len(sink.requests) == 2


def test_410_fails_the_execution_and_disables_the_endpoint(
    tenant, owner, event_rule, active_store, sink, created_endpoint, django_capture_on_commit_callbacks
):
    sink.reply(Reply(status=410, body=b"gone"))

    emit(tenant, django_capture_on_commit_callbacks)

    execution = only_execution(event_rule)
    assert execution.status == ExecutionStatus.FAILED
    assert "410" in execution.error_message or "Gone" in execution.error_message
    created_endpoint.endpoint.refresh_from_db()
    assert created_endpoint.endpoint.enabled is False
    assert "410" in created_endpoint.endpoint.disabled_reason
    event_rule.refresh_from_db()
    assert (event_rule.execution_count, event_rule.failure_count) == (1, 1)
    assert Notification.objects.filter(execution=execution, kind=NotificationKind.EXECUTION_FAILED).count() == 1


def test_a_permanent_4xx_fails_at_once_and_a_redelivery_is_sent_on_commit(
    tenant, owner, event_rule, active_store, sink, created_endpoint, django_capture_on_commit_callbacks
):
    # given: the receiver refuses, then is fixed
    sink.reply(Reply(status=400, body=b"bad"))
    emit(tenant, django_capture_on_commit_callbacks)
    execution = only_execution(event_rule)
    delivery = WebhookDelivery.objects.get(execution=execution)
    assert execution.status == ExecutionStatus.FAILED and delivery.status == DeliveryStatus.FAILED

    # when
    with django_capture_on_commit_callbacks(execute=True):
        delivery_redeliver(delivery)

    # then: sent at once (AUTOMATIONS["WEBHOOK_ENQUEUE_DELIVERY"]), same webhook-id; totals untouched
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [r.headers["webhook-id"] for r in sink.requests] == [f"execution_{execution.pk}"] * 2
    event_rule.refresh_from_db()
    assert (event_rule.execution_count, event_rule.success_count, event_rule.failure_count) == (1, 0, 1)


def test_without_an_endpoint_the_command_is_recorded_only_and_counted_apart(
    tenant, owner, event_rule, active_store, sink, loopback_allowed, django_capture_on_commit_callbacks
):
    from executions.selectors import rule_execution_overview, rule_execution_stats

    # an endpoint for another action type does not receive add_product
    endpoint_create(tenant, sink.url(), action_type="update_store")

    emit(tenant, django_capture_on_commit_callbacks)

    execution = only_execution(event_rule)
    # the run ended without error, but nothing received it: its own outcome, not a success
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.success is True
    assert execution.recorded_only is True and execution.outcome == "recorded_only"
    assert execution.action_result["outcome"] == "recorded"
    assert execution.action_result["delivery"] == "not_delivered"
    assert execution.action_result["reason"] == (
        "No enabled webhook endpoint receives add_product commands: the command was only recorded."
    )
    assert execution.action_result["command"]["command"] == "product.add"
    assert sink.requests == []
    # counted apart: in the rule's totals, the overview and the stats
    event_rule.refresh_from_db()
    assert (event_rule.execution_count, event_rule.success_count, event_rule.failure_count) == (1, 0, 0)
    assert event_rule.recorded_only_count == 1 and event_rule.success_rate is None
    overview = rule_execution_overview(event_rule)
    assert overview["total_executions"] == 1 and overview["recorded_only_count"] == 1
    assert overview["success_rate"] is None
    stats = rule_execution_stats(event_rule)
    assert (stats["success_count"], stats["failure_count"], stats["recorded_only_count"]) == (0, 0, 1)
    assert stats["executions_by_day"][-1]["recorded_only"] == 1 and stats["executions_by_day"][-1]["succeeded"] == 0

    # when an endpoint for add_product is added, the next run is delivered: a real success
    endpoint_create(tenant, sink.url(), action_type="add_product")
    emit(tenant, django_capture_on_commit_callbacks, key="evt-2")
    delivered = AutomationExecution.objects.filter(automation_rule=event_rule).exclude(pk=execution.pk).get()
    assert delivered.outcome == "succeeded" and delivered.recorded_only is False
    event_rule.refresh_from_db()
    assert (event_rule.success_count, event_rule.recorded_only_count, event_rule.success_rate) == (1, 1, 1.0)
    stats = rule_execution_stats(event_rule)
    assert (stats["total_executions"], stats["success_count"], stats["recorded_only_count"]) == (2, 1, 1)
    assert stats["success_rate"] == 1.0


def record_in_process(execution, config, deliver):
    from executions.actions import ActionResult

    return ActionResult.succeeded(handled_in_process=True, template=config["template_id"])


def test_an_in_process_handler_replaces_delivery(
    tenant, owner, event_rule, active_store, sink, created_endpoint, settings, django_capture_on_commit_callbacks
):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "ACTION_HANDLERS": {"add_product": f"{__name__}.record_in_process"}}

    emit(tenant, django_capture_on_commit_callbacks)

    execution = only_execution(event_rule)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.action_result["handled_in_process"] is True
    assert sink.requests == [] and not WebhookDelivery.objects.exists()


def test_each_handler_sends_its_own_command(tenant, owner, sink, created_endpoint, loopback_allowed):
    from executions.delivery.services import endpoint_create as create
    from executions.pipeline import get_action_handler
    from tests.executions.delivery.conftest import make_execution

    create(tenant, sink.url("/all"))  # an endpoint for every action type
    configs = {
        "start_workflow": {"workflow_type_id": "website_creation", "template_id": "basic_site", "inputs": {"d": 1}},
        "update_product": {"product_id": "p_9", "updates": {"price": 10}},
        "generate_campaign": {"template_id": "seasonal_promo", "channels": ["email", "social"]},
        "create_landing_page": {"template_id": "lp", "title": "Sale", "slug": "big-sale", "publish": True},
        "add_product": {"template_id": "holiday_product", "count": 5, "category": "seasonal"},
        "update_store": {"settings": {"theme": "winter"}},
        "generate_draft": {"workflow_type_id": "blog", "template_id": "t", "title": "Draft", "inputs": {}},
    }
    seen = {}
    for action_type, config in configs.items():
        rule = make_event_rule(tenant, owner, name=f"rule {action_type}", action_type=action_type, action_config=config)
        execution = make_execution(rule)
        result = get_action_handler(action_type)(execution, config)
        assert result.outcome == "succeeded", result
        seen[action_type] = result.data["command"]
    assert len({command["command"] for command in seen.values()}) == 7
    assert seen["add_product"]["count"] == 5 and seen["update_product"]["updates"] == {"price": 10}
    assert seen["start_workflow"]["inputs"] == {"d": 1} and seen["update_store"]["settings"] == {"theme": "winter"}
    # add_product went to its own endpoint and to the catch-all one
    types = [json.loads(r.body)["type"] for r in sink.requests]
    assert types.count("automation.action.add_product") == 2 and len(types) == 8


def test_send_notification_emails_and_notifies_in_app_as_plain_text(
    tenant,
    owner,
    collaborator,
    council_member,
    other_owner,
    request,
    django_capture_on_commit_callbacks,
):
    # given: a real SMTP server (the fixture of the channel tests)
    inbox_server = request.getfixturevalue("smtp_server")
    owner.email, collaborator.email = "alice@shop.test", "bob@shop.test"
    owner.save(), collaborator.save()
    message = "Low stock {{ settings.SECRET_KEY }} <b>{% now 'Y' %}</b>"
    rule = make_event_rule(
        tenant,
        owner,
        name="Tell the team",
        conditions=[],
        action_type="send_notification",
        action_config={"recipients": ["owner", "collaborators"], "message": message, "channels": ["email"]},
    )

    # when
    emit(tenant, django_capture_on_commit_callbacks)

    # then
    execution = only_execution(rule)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    assert sorted(execution.action_result["recipient_user_ids"]) == sorted([owner.pk, collaborator.pk])
    inbox = Notification.objects.filter(execution=execution, kind=NotificationKind.AUTOMATION_MESSAGE)
    assert sorted(inbox.values_list("user_id", flat=True)) == sorted([owner.pk, collaborator.pk])
    assert {n.body for n in inbox} == {message}
    assert sorted(rcpt for e in inbox_server.envelopes for rcpt in e.rcpt_tos) == ["alice@shop.test", "bob@shop.test"]
    assert all(message in e.content.decode() for e in inbox_server.envelopes)

    # when the same execution's action runs again (a retry), nobody hears twice
    from executions.pipeline import get_action_handler

    get_action_handler("send_notification")(execution, rule.action_config)
    assert inbox.count() == 2 and len(inbox_server.envelopes) == 2


def test_councils_resolve_to_council_members_of_the_tenant(tenant, owner, council_member, other_owner):
    from executions.actions.send_notification import recipient_user_ids
    from governance.models import Council, CouncilMember

    council = Council.objects.create(tenant=tenant, name="Ops")
    CouncilMember.objects.create(council=council, user=council_member)
    CouncilMember.objects.create(council=council, user=other_owner)  # not a member of this tenant

    resolved = recipient_user_ids(tenant.pk, ["councils"])
    assert council_member.pk in resolved and other_owner.pk not in resolved
    assert recipient_user_ids(tenant.pk, ["owner"]) == [owner.pk]


def test_the_delivery_sweeper_is_a_periodic_entry():
    entry = next(e for e in PERIODIC_TASKS.values() if e.task == "executions.send_due_deliveries")
    assert entry.every_seconds == 60 and entry.expire_seconds <= 55
