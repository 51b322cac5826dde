"""Shadow mode (issue 16 item 2; docs/shadow.md): a shadow rule is matched, evaluated and governed like a
live one and logged as "shadowed" with the action it would have taken, never delivered, no approval
request, no notice; its runs are counted apart; going live is one edit and a new version."""

from __future__ import annotations

import json

import pytest

from automations.models import AutomationRule
from automations.rule_history import rule_version_history
from automations.services import rule_update
from executions.choices import ExecutionStatus
from executions.delivery.models import WebhookDelivery
from executions.delivery.services import endpoint_create
from executions.models import ApprovalRequest, AutomationExecution, MetricSample, Notification
from executions.pipeline import match_events
from executions.selectors import rule_execution_stats
from executions.services import emit_events
from tests.api import patch_json, post_json, staff_client, token_client
from tests.executions.conftest import EVENT_RULE, make_event_rule
from tests.executions.workers import Broker, app_on_broker, wait_for
from tests.factories import make_user

EVENT = {"event_type": "product_added", "source": "store"}


@pytest.fixture
def store(tenant, settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    return tenant


def emit_and_match(tenant, count: int = 1) -> list[AutomationExecution]:
    results = emit_events([{"tenant_id": tenant.pk, **EVENT} for _ in range(count)])
    match_events([result.id for result in results])
    return list(AutomationExecution.objects.order_by("id"))


@pytest.mark.django_db
def test_a_shadow_run_is_logged_with_its_command_and_never_delivered(store, owner, sink):
    rule = make_event_rule(store, owner, mode="shadow")
    endpoint_create(store, sink.url())

    (execution,) = emit_and_match(store)

    assert execution.status == ExecutionStatus.SHADOWED and execution.success is False
    assert execution.conditions_met is True and execution.condition_results[0]["passed"] is True
    result = execution.action_result
    assert (result["outcome"], result["delivered"], result["would_need_approval"]) == ("shadowed", False, False)
    assert result["command"]["command"] == "product.add" and result["command"]["execution_id"] == execution.pk
    assert not WebhookDelivery.objects.exists() and sink.requests == []
    rule.refresh_from_db()
    assert (rule.execution_count, rule.success_count, rule.failure_count) == (0, 0, 0)
    stats = rule_execution_stats(rule)
    assert (stats["total_executions"], stats["shadowed_count"]) == (0, 1)


@pytest.mark.django_db
def test_a_shadow_run_that_would_need_approval_opens_no_request(store, owner):
    make_event_rule(store, owner, mode="shadow", risk_level="high")
    (execution,) = emit_and_match(store)
    assert execution.status == ExecutionStatus.SHADOWED
    assert execution.required_approval is True and execution.action_result["would_need_approval"] is True
    assert not ApprovalRequest.objects.exists() and not Notification.objects.exists()


@pytest.mark.django_db
def test_a_shadow_notification_notifies_nobody(store, owner):
    make_event_rule(
        store,
        owner,
        mode="shadow",
        action_type="send_notification",
        action_config={"recipients": ["owner"], "message": "Hello", "channels": ["email"]},
    )
    (execution,) = emit_and_match(store)
    assert execution.status == ExecutionStatus.SHADOWED
    assert execution.action_result["would_run"]["message"] == "Hello"
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_conditions_still_decide_a_shadow_rule(store, owner):
    make_event_rule(store, owner, mode="shadow", conditions=[{"type": "store_status", "operator": "=", "value": "x"}])
    (execution,) = emit_and_match(store)
    assert execution.status == ExecutionStatus.SKIPPED


@pytest.mark.django_db
def test_going_live_is_one_edit_a_new_version_and_the_next_run_acts(store, owner, sink):
    rule = make_event_rule(store, owner, mode="shadow")
    endpoint_create(store, sink.url())
    emit_and_match(store)

    rule_update(rule, {"mode": "live"}, owner)

    assert rule.version == 2
    latest = rule_version_history(rule)[0]
    assert latest.description == ("Mode was shadow (it only logs what it would do); now live (it acts)",)
    emit_and_match(store)
    statuses = list(AutomationExecution.objects.order_by("id").values_list("status", flat=True))
    assert statuses == [ExecutionStatus.SHADOWED, ExecutionStatus.SUCCEEDED]
    assert len(sink.requests) == 1


@pytest.mark.django_db
def test_the_api_takes_and_shows_mode_and_refuses_a_bad_one(tenant, owner):
    client = token_client(owner)
    created = post_json(client, "/api/automations", {**EVENT_RULE, "tenant_id": tenant.pk, "mode": "shadow"})
    assert created.status_code == 201 and created.json()["automation"]["mode"] == "shadow"
    rule_id = created.json()["automation"]["id"]
    bad = patch_json(client, f"/api/automations/{rule_id}", {"mode": "dry_run"})
    assert bad.status_code == 400 and "mode" in bad.json()
    live = patch_json(client, f"/api/automations/{rule_id}", {"mode": "live"})
    assert live.json()["automation"]["mode"] == "live" and live.json()["automation"]["version"] == 2
    plain = post_json(client, "/api/automations", {**EVENT_RULE, "tenant_id": tenant.pk, "name": "Plain"})
    assert plain.json()["automation"]["mode"] == "live"


@pytest.mark.django_db
def test_the_portal_marks_shadow_rules_and_goes_live_in_one_click(store, owner):
    rule = make_event_rule(store, owner, mode="shadow")
    emit_and_match(store)
    client = staff_client(owner)
    assert "data-shadow-badge" in client.get("/portal/automations").content.decode()
    page = client.get(f"/portal/automations/{rule.pk}").content.decode()
    assert "data-shadow-notice" in page and "1 shadowed run so far" in page

    response = client.post(f"/portal/automations/{rule.pk}/go-live")

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.mode, rule.version) == ("live", 2)
    assert "data-shadow-notice" not in client.get(f"/portal/automations/{rule.pk}").content.decode()
    viewer = staff_client(make_user("vera", store, "viewer"))
    AutomationRule.objects.filter(pk=rule.pk).update(mode="shadow")
    viewer.post(f"/portal/automations/{rule.pk}/go-live")
    assert AutomationRule.objects.get(pk=rule.pk).mode == "shadow"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_shadow_runs_never_reach_the_sink_or_the_approval_queue_on_a_real_worker(store, owner, sink, tmp_path):
    shadow = make_event_rule(store, owner, mode="shadow")
    risky = make_event_rule(store, owner, name="Risky shadow", mode="shadow", risk_level="critical")
    live = make_event_rule(
        store, owner, name="Live twin", action_type="start_workflow", action_config={"workflow_type_id": "w"}
    )
    endpoint_create(store, sink.url())
    broker = Broker("redis", tmp_path)
    broker.purge()
    worker = broker.worker({"AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"})
    try:
        with app_on_broker(broker.url, broker.transport_options):
            worker.start()
            worker.wait_ready()
            emit_events([{"tenant_id": store.pk, **EVENT} for _ in range(5)])
            wait_for(
                lambda: AutomationExecution.objects.filter(status__in=["shadowed", "succeeded"]).count() == 15,
                timeout=90,
                message=f"every execution ended\n{worker.log()}",
            )
    finally:
        worker.stop()
        broker.purge()
    by_rule = {
        rule.pk: set(AutomationExecution.objects.filter(automation_rule=rule).values_list("status", flat=True))
        for rule in (shadow, risky, live)
    }
    assert by_rule == {shadow.pk: {"shadowed"}, risky.pk: {"shadowed"}, live.pk: {"succeeded"}}
    delivered = {json.loads(request.body)["data"]["execution_id"] for request in sink.requests}
    assert delivered == set(AutomationExecution.objects.filter(automation_rule=live).values_list("id", flat=True))
    assert len(sink.requests) == 5
    assert not ApprovalRequest.objects.exists()


@pytest.mark.django_db
def test_a_manual_run_of_a_shadow_rule_is_shadowed_too(store, owner, sink):
    from executions.pipeline import execute_rule_manually

    rule = make_event_rule(store, owner, mode="shadow")
    endpoint_create(store, sink.url())
    execution = execute_rule_manually(rule, {"store_status": "active"}, owner)
    assert execution.status == ExecutionStatus.SHADOWED and execution.triggered_by_id == owner.pk
    assert sink.requests == [] and not WebhookDelivery.objects.exists()
