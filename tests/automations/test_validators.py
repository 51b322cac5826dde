"""Each frozen schema's accept and refuse cases; every error names the field path."""

import pytest

from automations.validators import (
    errors_by_field,
    validate_action_config,
    validate_auto_approval_rules,
    validate_conditions,
    validate_rule_definition,
    validate_trigger_config,
)
from tests.factories import LOW_PRODUCT_ALERT

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

TRIGGER_ACCEPTED = [
    ("event", {"event_type": "product_added"}),
    ("event", {"event_type": "product_added", "source": "store"}),
    ("schedule", {"pattern": "daily", "time": "00:00"}),
    ("schedule", {"pattern": "weekly", "day": "monday", "time": "09:00", "timezone": "UTC"}),
    ("schedule", {"pattern": "monthly", "day_of_month": 31, "time": "23:59", "timezone": "Europe/Berlin"}),
    ("schedule", {"pattern": "seasonal", "season": "black_friday", "time": "10:00"}),
    ("schedule", {"pattern": "seasonal", "month": 2, "day": 29, "time": "08:00"}),
    ("schedule", {"pattern": "cron", "cron": "*/15 9-17 * * mon-fri"}),
    ("schedule", {"pattern": "cron", "cron": "0 0 1,15 jan,jul 0", "timezone": "America/New_York"}),
    ("threshold", {"metric": "product_count", "operator": "<", "value": 3}),
    ("threshold", {"metric": "conversion_rate", "operator": ">=", "value": 0.5, "for_minutes": 0}),
    ("threshold", {"metric": "store_traffic", "operator": "!=", "value": -1, "for_minutes": 30}),
    ("behavior", {"behavior_type": "abandoned_cart", "timeframe_hours": 24}),
    ("behavior", {"behavior_type": "dormant_customer", "timeframe_hours": 0.5}),
    ("behavior", {"behavior_type": "high_value_customer", "timeframe_hours": 720, "min_total": 500}),
]


@pytest.mark.parametrize(("trigger_type", "config"), TRIGGER_ACCEPTED)
def test_trigger_configs_accepted(trigger_type, config):
    assert validate_trigger_config(trigger_type, config) == {}


TRIGGER_REFUSED = [
    ("event", {}, "trigger_config.event_type", "required"),
    ("event", {"event_type": "has spaces"}, "trigger_config.event_type", "letters"),
    ("event", {"event_type": "x", "colour": "red"}, "trigger_config.colour", "unknown field"),
    ("schedule", {"time": "09:00"}, "trigger_config.pattern", "required"),
    ("schedule", {"pattern": "hourly", "time": "09:00"}, "trigger_config.pattern", '"hourly" is not one of'),
    ("schedule", {"pattern": "daily"}, "trigger_config.time", "required"),
    ("schedule", {"pattern": "daily", "time": "9:00"}, "trigger_config.time", "HH:MM"),
    ("schedule", {"pattern": "daily", "time": "24:00"}, "trigger_config.time", "HH:MM"),
    ("schedule", {"pattern": "weekly", "time": "09:00"}, "trigger_config.day", "required"),
    ("schedule", {"pattern": "weekly", "day": "mon", "time": "09:00"}, "trigger_config.day", '"mon" is not one of'),
    ("schedule", {"pattern": "monthly", "time": "09:00"}, "trigger_config.day_of_month", "required"),
    ("schedule", {"pattern": "monthly", "day_of_month": 32, "time": "09:00"}, "trigger_config.day_of_month", "31"),
    ("schedule", {"pattern": "monthly", "day_of_month": 0, "time": "09:00"}, "trigger_config.day_of_month", "least"),
    ("schedule", {"pattern": "seasonal", "time": "09:00"}, "trigger_config.season", "named season"),
    ("schedule", {"pattern": "seasonal", "season": "easter", "time": "09:00"}, "trigger_config.season", "easter"),
    ("schedule", {"pattern": "seasonal", "month": 2, "day": 30, "time": "09:00"}, "trigger_config.day", "no day 30"),
    ("schedule", {"pattern": "seasonal", "month": 13, "day": 1, "time": "09:00"}, "trigger_config.month", "1 to 12"),
    ("schedule", {"pattern": "daily", "time": "09:00", "timezone": "Mars/Base"}, "trigger_config.timezone", "IANA"),
    ("schedule", {"pattern": "cron", "cron": "* * *"}, "trigger_config.cron", "5 fields"),
    ("schedule", {"pattern": "cron", "cron": "61 * * * *"}, "trigger_config.cron", "minute: 61"),
    ("schedule", {"pattern": "cron", "cron": "0 9 * * *", "time": "09:00"}, "trigger_config.time", "leave time out"),
    ("schedule", {"pattern": "daily", "time": "09:00", "day": "monday"}, "trigger_config.day", "not used"),
    ("threshold", {"operator": "<", "value": 3}, "trigger_config.metric", "required"),
    ("threshold", {"metric": "x", "operator": "~", "value": 3}, "trigger_config.operator", '"~" is not one of'),
    ("threshold", {"metric": "x", "operator": "<"}, "trigger_config.value", "required"),
    ("threshold", {"metric": "x", "operator": "<", "value": "3"}, "trigger_config.value", "number"),
    ("threshold", {"metric": "x", "operator": "<", "value": True}, "trigger_config.value", "number"),
    ("threshold", {"metric": "x", "operator": "<", "value": 3, "for_minutes": -1}, "trigger_config.for_minutes", "0"),
    ("behavior", {"timeframe_hours": 24}, "trigger_config.behavior_type", "required"),
    ("behavior", {"behavior_type": "abandoned_cart"}, "trigger_config.timeframe_hours", "required"),
    (
        "behavior",
        {"behavior_type": "abandoned_cart", "timeframe_hours": 0},
        "trigger_config.timeframe_hours",
        "greater",
    ),
    ("behavior", {"behavior_type": "high_value_customer", "timeframe_hours": 1}, "trigger_config.min_total", "spend"),
    (
        "behavior",
        {"behavior_type": "repeat_purchase", "timeframe_hours": 1, "min_total": 5},
        "trigger_config.min_total",
        "only",
    ),
]


@pytest.mark.parametrize(("trigger_type", "config", "path", "fragment"), TRIGGER_REFUSED)
def test_trigger_configs_refused_with_path(trigger_type, config, path, fragment):
    errors = validate_trigger_config(trigger_type, config)
    assert path in errors, errors
    assert any(fragment in message for message in errors[path]), errors[path]


def test_trigger_config_must_be_an_object():
    assert validate_trigger_config("event", ["product_added"]) == {"trigger_config": ["must be a JSON object"]}


CONDITIONS_ACCEPTED = [
    [],
    [{"type": "product_count", "operator": "<", "value": 3}],
    [{"type": "store_status", "operator": "=", "value": "active"}],
    [{"type": "date", "operator": ">=", "value": "2025-12-01"}],
    [{"type": "customer.total_spent", "operator": ">", "value": 100}],
    [{"type": "tags", "operator": "contains", "value": "vip"}],
    [{"type": "tags", "operator": "not_contains", "value": "banned"}],
    [{"type": "country", "operator": "in", "value": ["DE", "FR"]}],
    [{"type": "country", "operator": "not_in", "value": ["US"]}],
    [{"type": "amount", "operator": "between", "value": [10, 20]}],
    [{"type": "day", "operator": "between", "value": ["2025-12-01", "2025-12-24"]}],
    [{"type": "coupon", "operator": "exists"}],
    [{"type": "coupon", "operator": "exists", "value": False}],
    [{"type": "email", "operator": "matches", "value": r"@example\.com$"}],
    [{"type": "x", "operator": "=", "value": None}],
    [{"any": [{"type": "a", "operator": "=", "value": 1}, {"not": {"type": "b", "operator": "=", "value": 2}}]}],
    [{"all": [{"type": "a", "operator": "=", "value": 1}]}],
]


@pytest.mark.parametrize("conditions", CONDITIONS_ACCEPTED)
def test_conditions_accepted(conditions):
    assert validate_conditions(conditions) == {}


CONDITIONS_REFUSED = [
    ({"type": "x"}, "conditions", "list"),
    ([{"type": "x", "operator": "~", "value": 1}], "conditions[0].operator", '"~" is not one of =, !=, <'),
    ([{"operator": "=", "value": 1}], "conditions[0].type", "required"),
    ([{"type": "a b", "operator": "=", "value": 1}], "conditions[0].type", "letters"),
    ([{"type": "x", "operator": "="}], "conditions[0].value", "required"),
    ([{"type": "x", "operator": "=", "value": [1]}], "conditions[0].value", "in"),
    ([{"type": "x", "operator": "<", "value": None}], "conditions[0].value", "number"),
    ([{"type": "x", "operator": "in", "value": []}], "conditions[0].value", "non-empty list"),
    ([{"type": "x", "operator": "in", "value": [{"a": 1}]}], "conditions[0].value", "only strings"),
    ([{"type": "x", "operator": "between", "value": [5, 1]}], "conditions[0].value", "above the highest"),
    ([{"type": "x", "operator": "between", "value": [1, "b"]}], "conditions[0].value", "two numbers"),
    ([{"type": "x", "operator": "exists", "value": "yes"}], "conditions[0].value", "true"),
    ([{"type": "x", "operator": "matches", "value": r"(a)\1"}], "conditions[0].value", r"backreference (\1)"),
    ([{"type": "x", "operator": "matches", "value": "(?<!a)b"}], "conditions[0].value", "lookbehind"),
    ([{"type": "x", "operator": "matches", "value": "("}], "conditions[0].value", "not a valid regular"),
    ([{"type": "x", "operator": "matches", "value": "a" * 201}], "conditions[0].value", "200"),
    ([{"type": "x", "operator": "=", "value": 1, "extra": 1}], "conditions[0].extra", "unknown field"),
    (["x"], "conditions[0]", "JSON object"),
    ([{"any": []}], "conditions[0].any", "non-empty list"),
    ([{"any": [{"type": "a", "operator": "?", "value": 1}]}], "conditions[0].any[0].operator", "not one of"),
    ([{"not": {"type": "a", "operator": "=", "value": 1}, "all": []}], "conditions[0]", "exactly one key"),
]


@pytest.mark.parametrize(("conditions", "path", "fragment"), CONDITIONS_REFUSED)
def test_conditions_refused_with_path(conditions, path, fragment):
    errors = validate_conditions(conditions)
    assert path in errors, errors
    assert any(fragment in message for message in errors[path]), errors[path]


def test_second_condition_error_names_its_index():
    errors = validate_conditions(
        [{"type": "a", "operator": "=", "value": 1}, {"type": "b", "operator": "~", "value": 1}]
    )
    assert list(errors) == ["conditions[1].operator"]
    assert errors["conditions[1].operator"][0].startswith('"~" is not one of =, !=, <, >, <=, >=, contains')


def test_too_many_conditions_refused():
    conditions = [{"type": f"k{i}", "operator": "=", "value": i} for i in range(51)]
    assert "conditions" in validate_conditions(conditions)


def test_group_nesting_is_capped():
    condition = {"type": "a", "operator": "=", "value": 1}
    for _ in range(6):
        condition = {"not": condition}
    assert any("nest" in m for messages in validate_conditions([condition]).values() for m in messages)


ACTIONS_ACCEPTED = [
    ("start_workflow", {"workflow_type_id": "website_creation", "template_id": "basic_site", "inputs": {"d": "x"}}),
    ("send_notification", {"recipients": ["owner"]}),
    ("send_notification", {"recipients": ["owner", "collaborators"], "message": "Low", "channels": ["email", "push"]}),
    ("update_product", {"product_id": "prod_1", "updates": {"price": 10}}),
    ("update_product", {"updates": {"status": "draft"}}),
    ("generate_campaign", {"template_id": "seasonal_promo", "channels": ["email", "social"], "schedule": "immediate"}),
    ("generate_campaign", {"template_id": "t", "schedule": "2026-12-01T09:00:00+00:00", "budget": 50}),
    ("create_landing_page", {"template_id": "t", "title": "Sale", "slug": "holiday-sale", "publish": True}),
    ("add_product", {"template_id": "holiday_product", "count": 5, "category": "seasonal"}),
    ("update_store", {"settings": {"status": "maintenance"}}),
    ("generate_draft", {"workflow_type_id": "blog_post", "title": "Draft", "inputs": {}}),
]


@pytest.mark.parametrize(("action_type", "config"), ACTIONS_ACCEPTED)
def test_action_configs_accepted(action_type, config):
    assert validate_action_config(action_type, config) == {}


ACTIONS_REFUSED = [
    ("start_workflow", {}, "action_config.workflow_type_id", "required"),
    ("start_workflow", {"workflow_type_id": "w", "inputs": []}, "action_config.inputs", "object"),
    ("send_notification", {}, "action_config.recipients", "required"),
    ("send_notification", {"recipients": []}, "action_config.recipients", "at least one"),
    ("send_notification", {"recipients": ["boss"]}, "action_config.recipients[0]", '"boss" is not one of'),
    ("send_notification", {"recipients": ["owner"], "channels": ["fax"]}, "action_config.channels[0]", "fax"),
    ("send_notification", {"recipients": ["owner", "owner"]}, "action_config.recipients", "more than once"),
    ("send_notification", {"reciepients": ["owner"]}, "action_config.reciepients", "unknown field"),
    ("update_product", {"product_id": "p"}, "action_config.updates", "required"),
    ("update_product", {"updates": {}}, "action_config.updates", "at least one"),
    ("generate_campaign", {"channels": ["email"]}, "action_config.template_id", "required"),
    ("generate_campaign", {"template_id": "t", "schedule": "tomorrow"}, "action_config.schedule", "immediate"),
    ("generate_campaign", {"template_id": "t", "budget": -1}, "action_config.budget", "at least 0"),
    ("create_landing_page", {"template_id": "t", "slug": "Bad Slug"}, "action_config.slug", "lowercase"),
    ("create_landing_page", {"template_id": "t", "publish": "yes"}, "action_config.publish", "true or false"),
    ("add_product", {"template_id": "t", "count": 0}, "action_config.count", "at least 1"),
    ("add_product", {"template_id": "t", "count": 2.5}, "action_config.count", "whole number"),
    ("add_product", {"count": 5}, "action_config.template_id", "required"),
    ("update_store", {}, "action_config.settings", "required"),
    ("generate_draft", {"title": "x"}, "action_config.workflow_type_id", "required"),
]


@pytest.mark.parametrize(("action_type", "config", "path", "fragment"), ACTIONS_REFUSED)
def test_action_configs_refused_with_path(action_type, config, path, fragment):
    errors = validate_action_config(action_type, config)
    assert path in errors, errors
    assert any(fragment in message for message in errors[path]), errors[path]


@pytest.mark.parametrize(
    "rules",
    [{}, {"max_budget": 0}, {"max_budget": 100, "trusted_users_only": True}, {"max_frequency_per_day": 1}],
)
def test_auto_approval_rules_accepted(rules):
    assert validate_auto_approval_rules(rules) == {}


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"max_budget": -1}, "auto_approval_rules.max_budget"),
        ({"max_budget": "100"}, "auto_approval_rules.max_budget"),
        ({"trusted_users_only": "yes"}, "auto_approval_rules.trusted_users_only"),
        ({"business_hours_only": 1}, "auto_approval_rules.business_hours_only"),
        ({"max_frequency_per_day": 0}, "auto_approval_rules.max_frequency_per_day"),
        ({"max_frequency_per_day": 1.5}, "auto_approval_rules.max_frequency_per_day"),
        ({"max_spend": 1}, "auto_approval_rules.max_spend"),
        ([], "auto_approval_rules"),
    ],
)
def test_auto_approval_rules_refused(rules, path):
    assert path in validate_auto_approval_rules(rules)


def test_whole_rule_definition_valid_and_invalid():
    assert validate_rule_definition(LOW_PRODUCT_ALERT) == {}
    bad = {**LOW_PRODUCT_ALERT, "name": " ", "category": "sports", "trigger_type": "sometimes", "risk_level": "extreme"}
    errors = validate_rule_definition(bad)
    assert set(errors) >= {"name", "category", "trigger_type", "risk_level"}


def test_errors_group_under_fields_naming_full_paths():
    grouped = errors_by_field({"trigger_config.time": ["bad"], "conditions[1].operator": ["worse"], "name": ["x"]})
    assert grouped == {
        "trigger_config": ["trigger_config.time: bad"],
        "conditions": ["conditions[1].operator: worse"],
        "name": ["x"],
    }
