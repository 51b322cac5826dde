"""The builder form's translation between typed fields and the rule body: pure, no database."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict

from automations.builder_state import (
    rule_data_from_state,
    state_from_data,
    state_from_post,
)
from automations.demo import SAMPLE_AUTOMATIONS
from automations.validators import validate_rule_definition

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

DEFAULTS: dict[str, Any] = {
    "description": "",
    "category": "",
    "enabled": True,
    "conditions": [],
    "risk_level": "low",
    "requires_approval": False,
    "assigned_council_id": None,
    "auto_approval_rules": {},
    "mode": "live",
    "contact_cap": "obey",
    "when_capped": "skip",
}

EXTRA_SAMPLES: list[dict[str, Any]] = [
    {
        "name": "Every operator",
        "trigger_type": "schedule",
        "trigger_config": {"pattern": "monthly", "day_of_month": 31, "time": "23:30", "timezone": "Europe/Berlin"},
        "conditions": [
            {"type": "a", "operator": "=", "value": "3"},
            {"type": "b", "operator": "!=", "value": True},
            {"type": "c", "operator": "<", "value": 2.5},
            {"type": "d", "operator": ">=", "value": "2025-12-01"},
            {"type": "e", "operator": "contains", "value": "sale"},
            {"type": "f", "operator": "in", "value": ["x", 2, "y z"]},
            {"type": "g", "operator": "not_in", "value": ["a,b", "c"]},
            {"type": "h", "operator": "between", "value": [1, 10]},
            {"type": "i", "operator": "exists"},
            {"type": "j", "operator": "exists", "value": False},
            {"type": "k", "operator": "matches", "value": "^VIP-[0-9]+$"},
            {"any": [{"type": "l", "operator": "=", "value": 1}, {"type": "m", "operator": "=", "value": 2}]},
        ],
        "action_type": "create_landing_page",
        "action_config": {"template_id": "t", "title": "Hi", "slug": "holiday-sale", "publish": True},
    },
    {
        "name": "Cron and JSON",
        "trigger_type": "schedule",
        "trigger_config": {"pattern": "cron", "cron": "0 9 * * 1", "timezone": "UTC"},
        "action_type": "update_product",
        "action_config": {"product_id": "p1", "updates": {"price": 9.99, "tags": ["a"]}},
    },
    {
        "name": "Exempt, deferred when held",
        "trigger_type": "event",
        "trigger_config": {"event_type": "order_placed"},
        "action_type": "send_notification",
        "action_config": {"recipients": ["owner"], "channels": ["email"]},
        "contact_cap": "exempt",
        "when_capped": "defer",
    },
]


@pytest.mark.parametrize("sample", SAMPLE_AUTOMATIONS + EXTRA_SAMPLES, ids=lambda sample: sample["name"])
def test_a_rule_body_survives_the_form_unchanged(sample):
    # given a valid rule body
    data = {**DEFAULTS, **sample}
    assert validate_rule_definition(data) == {}
    # when it is shown in the form and read back
    again, errors = rule_data_from_state(state_from_data(data))
    # then nothing changed
    assert errors == {}
    assert again == data


def test_typed_values_are_kept_and_read_as_numbers_lists_and_json():
    post = QueryDict(mutable=True)
    post.update(
        {
            "name": "  Typed  ",
            "trigger_type": "threshold",
            "t_metric": "product_count",
            "t_operator": "<",
            "t_value": "3",
            "t_for_minutes": "abc",
            "action_type": "start_workflow",
            "a_start_workflow__workflow_type_id": "w",
            "a_start_workflow__inputs": "{not json",
            "cond-5-type": "store_status",
            "cond-5-operator": "in",
            "cond-5-value": "active, paused",
            "cond-2-type": "product_count",
            "cond-2-operator": "between",
            "cond-2-value": "1, 10",
        }
    )
    state = state_from_post(post)
    assert state.get("t_for_minutes") == "abc"  # kept as typed for the form
    data, errors = rule_data_from_state(state)
    assert data["name"] == "Typed"
    assert data["trigger_config"] == {"metric": "product_count", "operator": "<", "value": 3, "for_minutes": "abc"}
    assert data["conditions"] == [
        {"type": "product_count", "operator": "between", "value": [1, 10]},
        {"type": "store_status", "operator": "in", "value": ["active", "paused"]},
    ]
    assert list(errors) == ["action_config.inputs"]
    assert "trigger_config.for_minutes" in validate_rule_definition(data)
