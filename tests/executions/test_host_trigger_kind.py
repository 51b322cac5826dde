"""A host project adds a trigger kind through settings, end to end: the API validates a rule with it
(400 naming the field), the builder generates its panel and saves it, the summary reads its words, and
its listener starts the rule, whose command reaches a real local HTTP server.

The kind is ``tests/host/inventory.py`` (spec) + ``tests/host/inventory_listener.py`` (listener).
"""

from __future__ import annotations

import json

import pytest

from automations.kinds.triggers import get_trigger_kind
from automations.models import AutomationRule
from automations.summaries import summarize_rule
from executions.choices import ExecutionStatus
from executions.delivery.services import endpoint_create
from tests.api import post_json, token_client


def inventory_rule(**trigger_config: object) -> dict[str, object]:
    return {
        "tenant_id": "tenant_test",
        "name": "Restock Berlin",
        "trigger_type": "inventory_count",
        "trigger_config": trigger_config,
        "conditions": [],
        "action_type": "add_product",
        "action_config": {"template_id": "restock", "count": 3},
        "risk_level": "low",
    }


@pytest.fixture
def host_trigger(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "TRIGGER_KINDS": ["tests.host.inventory.INVENTORY_COUNT"]}
    assert get_trigger_kind("inventory_count") is not None


def test_without_the_setting_the_trigger_kind_is_unknown(owner):
    response = post_json(token_client(owner), "/api/automations", inventory_rule(warehouse="berlin-1", below=5))
    assert response.status_code == 400
    assert "inventory_count" in response.json()["trigger_type"][0]


def test_a_bad_trigger_config_is_a_400_naming_the_field(owner, host_trigger):
    response = post_json(token_client(owner), "/api/automations", inventory_rule(warehouse="", below=0))
    assert response.status_code == 400
    errors = response.json()["trigger_config"]
    assert errors["warehouse"] == ["this field is required, a warehouse code such as berlin-1"]
    assert errors["below"] == ["must be a whole number from 1 to 1000000"]


def test_the_builder_generates_the_panel_and_saves_the_rule(owner, client, host_trigger):
    client.force_login(owner)
    page = client.get("/portal/automations/builder/new").content.decode()
    assert 'id="trigger-inventory_count" value="inventory_count"' in page
    assert 'data-panel="inventory_count"' in page
    assert 'name="t_inventory_count__warehouse"' in page
    assert "fires when a count comes in under this" in page
    response = client.post(
        "/portal/automations/builder/new",
        {
            "name": "Restock from the builder",
            "trigger_type": "inventory_count",
            "t_inventory_count__warehouse": "berlin-1",
            "t_inventory_count__below": "5",
            "action_type": "update_store",
            "a_update_store__settings": '{"banner": "Back soon"}',
            "risk_level": "low",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AutomationRule.objects.get(name="Restock from the builder")
    assert rule.trigger_config == {"warehouse": "berlin-1", "below": 5}


def test_the_listener_starts_the_rule_and_the_command_is_delivered(
    tenant, owner, sink, loopback_allowed, host_trigger, django_capture_on_commit_callbacks
):
    from tests.host.inventory_listener import inventory_counted

    created = post_json(token_client(owner), "/api/automations", inventory_rule(warehouse="berlin-1", below=5))
    assert created.status_code == 201, created.content
    rule = AutomationRule.objects.get(pk=created.json()["automation"]["id"])
    assert summarize_rule(rule).summary == (
        "When a stock count in berlin-1 comes in below 5, add 3 products from the restock template."
    )
    endpoint_create(tenant, sink.url(), action_type="add_product")

    with django_capture_on_commit_callbacks(execute=True):
        assert inventory_counted("tenant_test", "berlin-1", 9, "count-1") == []  # not below 5
        (execution,) = inventory_counted("tenant_test", "berlin-1", 2, "count-2")

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    assert {"warehouse": "berlin-1", "count": 2}.items() <= execution.trigger_data.items()
    (request,) = sink.requests
    assert json.loads(request.body)["data"]["command"]["command"] == "product.add"
