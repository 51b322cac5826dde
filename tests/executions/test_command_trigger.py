"""Issue 19 item 3: every command says what triggered it (``trigger``, docs/webhooks.md), one block per
trigger type, each started by the real listener and delivered to a real local HTTP server (whose
``sink`` fixture verifies every webhook with ``standardwebhooks``). Each request sent has the shape of
docs/webhooks.md's full example for its trigger type, and there is one example per type."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from automations.models import AutomationRule
from executions.actions.trigger import command_trigger
from executions.choices import ExecutionStatus, TriggerSource
from executions.delivery.models import WebhookDelivery
from executions.delivery.services import endpoint_create, endpoint_update, send_due_deliveries
from executions.listeners.behavior import check_behaviors
from executions.listeners.metrics import record_metric_samples
from executions.listeners.schedule import check_schedules
from executions.listeners.threshold import check_metric_thresholds
from executions.models import AutomationExecution, Event
from executions.services import emit_event, execute_rule_manually, run_execution
from tests.executions.delivery.sink import Reply
from tests.factories import make_rule

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
ENVELOPE = {"command", "idempotency_key", "tenant_id", "automation_rule_id", "execution_id", "trigger"}
ADD_PRODUCT = {"action_type": "add_product", "action_config": {"template_id": "restock", "count": 1}, "conditions": []}
PRODUCT = {"product_id": "p_1", "name": "Winter hat"}


@pytest.fixture
def endpoint(tenant, sink, loopback_allowed):
    return endpoint_create(tenant, sink.url()).endpoint


def documented_bodies() -> dict[str, dict[str, Any]]:
    """docs/webhooks.md's full request body per trigger type (its ```json blocks), by ``trigger.type``."""
    blocks = re.findall(r"```json\n(.*?)\n```", DOCS.read_text(), flags=re.S)
    bodies = [json.loads(block) for block in blocks if '"trigger"' in block and block.startswith('{\n  "data"')]
    return {body["data"]["command"]["trigger"]["type"]: body for body in bodies}


def trigger_sent(sink, path: str = "/hook") -> dict[str, Any]:
    """The ``trigger`` of the one command the sink received on ``path``, after checking that the request
    has the shape of docs/webhooks.md's example for its trigger type."""
    [body] = [json.loads(r.body) for r in sink.requests if r.path == path]
    trigger = body["data"]["command"]["trigger"]
    documented = documented_bodies()[trigger["type"]]
    assert (set(body), set(body["data"])) == (set(documented), set(documented["data"]))
    assert set(documented["data"]["command"]) >= ENVELOPE and set(body["data"]["command"]) >= ENVELOPE
    assert set(trigger) == set(documented["data"]["command"]["trigger"])
    if "slot" in trigger:
        assert set(trigger["slot"]) == set(documented["data"]["command"]["trigger"]["slot"])
    return trigger


def run_only_execution(rule: AutomationRule) -> AutomationExecution:
    [execution] = AutomationExecution.objects.filter(automation_rule=rule)
    execution = run_execution(execution.pk)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    return execution


def test_an_event_command_names_the_event_and_carries_its_payload_unless_the_endpoint_leaves_it_out(
    tenant, owner, event_rule, active_store, sink, endpoint, settings, django_capture_on_commit_callbacks
):
    # given a second endpoint that leaves the payload out
    endpoint_create(tenant, sink.url("/bare"), include_trigger_payload=False)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        emit_event(tenant.pk, "product_added", dict(PRODUCT), source="store", idempotency_key="evt-7")

    # then
    event = Event.objects.get(idempotency_key="evt-7")
    assert trigger_sent(sink) == {
        "type": "event",
        "source": "store",
        "event_id": event.pk,
        "event_type": "product_added",
        "occurred_at": event.occurred_at.isoformat(),
        "idempotency_key": "evt-7",
        "payload": PRODUCT,
        "payload_omitted": None,
    }
    bare = trigger_sent(sink, "/bare")
    assert (bare["event_id"], bare["payload"], bare["payload_omitted"]) == (event.pk, None, "endpoint_setting")
    # the command the execution records is the full one
    [execution] = AutomationExecution.objects.filter(automation_rule=event_rule)
    assert execution.action_result["command"]["trigger"]["payload"] == PRODUCT

    # and a payload above the limit is left out, saying why
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_TRIGGER_PAYLOAD_MAX_BYTES": 20}
    too_large = command_trigger(execution)
    assert (too_large["event_id"], too_large["payload"], too_large["payload_omitted"]) == (event.pk, None, "too_large")


def test_a_retry_sends_the_same_body_even_after_the_endpoint_changes_its_payload_setting(
    tenant, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    # given a first attempt answered 500
    sink.reply(Reply(status=500))
    with django_capture_on_commit_callbacks(execute=True):
        emit_event(tenant.pk, "product_added", dict(PRODUCT), source="store", idempotency_key="evt-8")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    # when the endpoint stops taking payloads, then the retry falls due
    endpoint_update(endpoint, {"include_trigger_payload": False}, user=owner)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    send_due_deliveries()

    # then the retry is the first attempt's bytes, with the same webhook-id and idempotency key
    first, second = sink.requests
    assert first.body == second.body and first.headers["webhook-id"] == second.headers["webhook-id"]
    command = json.loads(second.body)["data"]["command"]
    assert command["trigger"]["payload"] == PRODUCT
    assert command["idempotency_key"] == f"automation-execution-{delivery.execution_id}"


def test_a_schedule_command_carries_its_slot(tenant, owner, sink, endpoint):
    config = {"pattern": "daily", "time": "09:00", "timezone": "Europe/Berlin"}
    rule = make_rule(tenant, owner, trigger_type="schedule", trigger_config=config, **ADD_PRODUCT)
    slot = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # 09:00 in Berlin
    AutomationRule.objects.filter(pk=rule.pk).update(next_run_at=slot)

    check_schedules(slot + dt.timedelta(seconds=5))
    run_only_execution(rule)

    assert trigger_sent(sink) == {
        "type": TriggerSource.SCHEDULER,
        "slot": {
            "pattern": "daily",
            "timezone": "Europe/Berlin",
            "slot_utc": "2026-03-02T08:00:00Z",
            "slot_local": "2026-03-02T09:00:00+01:00",
            "scheduled_local": "2026-03-02T09:00",
        },
    }


def test_a_threshold_command_carries_the_metric_and_both_values(tenant, owner, sink, endpoint):
    trigger = {"metric": "product_count", "operator": "<", "value": 3}
    rule = make_rule(tenant, owner, trigger_config=trigger, **ADD_PRODUCT)
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    for minutes, value in ((0, 5), (1, 2)):
        at = start + dt.timedelta(minutes=minutes)
        record_metric_samples({"tenant_id": tenant.pk, "metric": "product_count", "value": value}, now=at, check=False)
        check_metric_thresholds(tenant.pk, "product_count", now=at)

    run_only_execution(rule)

    assert trigger_sent(sink) == {
        "type": "threshold",
        "metric": "product_count",
        "operator": "<",
        "threshold": 3,
        "previous_value": 5,
        "current_value": 2,
        "observed_at": "2026-03-02T09:01:00Z",
    }


def test_a_behaviour_command_carries_the_customer_and_the_evidence(tenant, owner, sink, endpoint):
    trigger = {"behavior_type": "abandoned_cart", "timeframe_hours": 24}
    rule = make_rule(tenant, owner, trigger_type="behavior", trigger_config=trigger, **ADD_PRODUCT)
    now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
    cart = Event.objects.create(
        tenant=tenant,
        customer_id="c1",
        event_type="cart_updated",
        payload={"cart_id": "cart-1", "amount": 55},
        occurred_at=now - dt.timedelta(hours=25),
        idempotency_key="cart-1",
    )

    check_behaviors(now)
    run_only_execution(rule)

    assert trigger_sent(sink) == {
        "type": "behavior",
        "behavior_type": "abandoned_cart",
        "customer_id": "c1",
        "evidence": {
            "cart_event_id": cart.pk,
            "cart_event_type": "cart_updated",
            "cart_activity_at": "2026-03-09T11:00:00Z",
            "cart": {"cart_id": "cart-1", "amount": 55},
        },
    }


def test_a_manual_command_names_who_ran_it(tenant, owner, sink, endpoint):
    rule = make_rule(tenant, owner, **ADD_PRODUCT)

    execution = execute_rule_manually(rule, {"product_count": 1}, owner)  # the threshold is checked too

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    assert trigger_sent(sink) == {"type": "manual", "triggered_by_user_id": owner.pk}


def test_the_docs_show_one_full_example_per_trigger_type():
    assert sorted(documented_bodies()) == sorted(TriggerSource.values)
