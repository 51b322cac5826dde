"""A host project adds an action kind through settings, end to end: the API validates a rule with it
(400 naming the field), the builder shows its panel, the summary reads its words, the API schema lists
it, and running the rule delivers its signed command to a real local HTTP server.

The kind is ``tests/host/gift_card.py`` (spec) + ``tests/host/gift_card_command.py`` (command builder).
"""

from __future__ import annotations

import json

import pytest
import yaml

from automations.kinds.actions import get_action_kind
from automations.models import AutomationRule
from automations.summaries import summarize_rule
from executions.choices import ExecutionStatus
from executions.delivery.services import endpoint_create
from executions.delivery.signing import verify
from tests.api import post_json, token_client

HOST_KINDS = ["tests.host.gift_card.GIFT_CARD"]


def gift_card_rule(**action_config: object) -> dict[str, object]:
    return {
        "tenant_id": "tenant_test",
        "name": "Thank big spenders",
        "trigger_type": "event",
        "trigger_config": {"event_type": "order_paid"},
        "conditions": [{"type": "order.total", "operator": ">", "value": 200}],
        "action_type": "issue_gift_card",
        "action_config": action_config,
        "risk_level": "low",
    }


@pytest.fixture
def host_kinds(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "ACTION_KINDS": HOST_KINDS}  # setting_changed reloads the registry
    assert get_action_kind("issue_gift_card") is not None
    yield
    # pytest-django restores the setting afterwards, and the registry drops the host kind again.


def test_without_the_setting_the_kind_is_unknown(owner):
    response = post_json(token_client(owner), "/api/automations", gift_card_rule(amount=25, currency="EUR"))
    assert response.status_code == 400
    assert "issue_gift_card" in response.json()["action_type"][0]


def test_a_bad_config_is_a_400_naming_the_field(owner, host_kinds):
    response = post_json(token_client(owner), "/api/automations", gift_card_rule(amount=900, currency="GBP", x=1))
    assert response.status_code == 400
    errors = response.json()["action_config"]
    assert errors["amount"] == ["must be a number from 1 to 500"]
    assert errors["currency"] == ["must be one of EUR, USD"]
    assert errors["x"] == ["unknown field; expected one of amount, currency, note, budget"]
    assert AutomationRule.objects.count() == 0


def test_the_schema_and_the_builder_offer_the_host_kind(owner, client, host_kinds):
    schema = yaml.safe_load(token_client(owner).get("/api/schema/").content)
    assert "issue_gift_card" in schema["components"]["schemas"]["ActionTypeEnum"]["enum"]
    client.force_login(owner)
    page = client.get("/portal/automations/builder/new").content.decode()
    assert '<option value="issue_gift_card" >Issue Gift Card</option>' in page
    assert 'data-panel="issue_gift_card"' in page
    assert 'name="a_issue_gift_card__amount"' in page
    assert '<option value="USD" >US dollar</option>' in page


def test_the_builder_saves_a_rule_of_the_host_kind(owner, client, host_kinds):
    client.force_login(owner)
    response = client.post(
        "/portal/automations/builder/new",
        {
            "name": "Gift from the builder",
            "trigger_type": "event",
            "t_event_type": "order_paid",
            "action_type": "issue_gift_card",
            "a_issue_gift_card__amount": "30",
            "a_issue_gift_card__currency": "USD",
            "risk_level": "low",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AutomationRule.objects.get(name="Gift from the builder")
    assert rule.action_config == {"amount": 30, "currency": "USD"}


def test_a_host_kind_runs_end_to_end_to_a_signed_webhook(
    tenant, owner, sink, loopback_allowed, host_kinds, django_capture_on_commit_callbacks
):
    # given: a rule created through the API and an endpoint for the kind
    client = token_client(owner)
    created = post_json(client, "/api/automations", gift_card_rule(amount=25, currency="EUR", note="Thanks!"))
    assert created.status_code == 201, created.content
    rule = AutomationRule.objects.get(pk=created.json()["automation"]["id"])
    summary = summarize_rule(rule)
    assert summary.action_description == "Issue gift card of 25 EUR"
    assert summary.summary == (
        "When an order paid event occurs, if order total is above 200, issue the customer a gift card of 25 EUR."
    )
    endpoint = endpoint_create(tenant, sink.url(), action_type="issue_gift_card", description="gift cards")

    # when: it runs
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            client, f"/api/automations/{rule.pk}/execute", {"context": {"order": {"total": 250}, "customer_id": "c_7"}}
        )
    assert response.status_code == 200, response.content

    # then: the command reached the sink, signed
    execution = rule.executions.get()
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    assert len(sink.requests) == 1
    request = sink.requests[0]
    verify(endpoint.secret, request.headers, request.body)  # raises if the signature is wrong
    body = json.loads(request.body)
    assert body["type"] == "automation.action.issue_gift_card"
    command = body["data"]["command"]
    assert (command["command"], command["amount"], command["currency"], command["note"]) == (
        "gift_card.issue",
        25,
        "EUR",
        "Thanks!",
    )
    assert command["idempotency_key"] == f"automation-execution-{execution.pk}"
