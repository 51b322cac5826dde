"""governance.common.storable: the one check for what the databases cannot store, and every service that applies it.

The services are where API, portal, admin and shell meet, so a ValidationError naming the field there
is what makes every surface answer 400 instead of a database error (PostgreSQL) or an overflow.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from automations.models import AutomationRule, RuleVersion
from automations.services import rule_create, rule_update
from governance.common.storable import (
    INTEGER_RANGE_MESSAGE,
    MAX_ID,
    MAX_INTEGER,
    NON_FINITE_MESSAGE,
    NUL_MESSAGE,
    SURROGATE_MESSAGE,
    database_id,
    json_problem,
    json_problem_at,
    loads_json,
)
from tests.factories import LOW_PRODUCT_ALERT, make_rule

HUGE = 10**5000  # int("9" * 5000) is refused by Python itself; arithmetic is not
INF = float("inf")
NAN = float("nan")

# --- the pure check ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"a": [1, {"b": "x\x00"}]}, ("a[1].b", NUL_MESSAGE)),
        ({"a": "\ud800"}, ("a", SURROGATE_MESSAGE)),
        ({"a\x00": 1}, ("", NUL_MESSAGE)),
        ([0, INF], ("[1]", NON_FINITE_MESSAGE)),
        ({"n": NAN}, ("n", NON_FINITE_MESSAGE)),
        ({"n": MAX_INTEGER + 1}, ("n", INTEGER_RANGE_MESSAGE)),
        ({"n": -HUGE}, ("n", INTEGER_RANGE_MESSAGE)),
        ({"first": "\x00", "second": INF}, ("first", NUL_MESSAGE)),
        ({"n": MAX_INTEGER, "f": 1e308, "t": "ünïcode ✓", "b": True, "none": None, 5: "int key"}, None),
    ],
    ids=["nested-nul", "surrogate", "nul-key", "inf", "nan", "int64+1", "huge", "document-order", "fine"],
)
def test_json_problem_at_names_the_path(data: Any, expected: tuple[str, str] | None) -> None:
    assert json_problem_at(data) == expected
    assert json_problem(data) == (expected[1] if expected else None)


def test_json_problem_at_extends_the_given_path_and_bounds_depth() -> None:
    assert json_problem_at({"value": INF}, "conditions[0]") == ("conditions[0].value", NON_FINITE_MESSAGE)
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    assert json_problem_at(deep) is not None and "nested deeper" in json_problem_at(deep)[1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"n": NaN}', "NaN is not a JSON number"),
        ('{"n": Infinity}', "Infinity is not a JSON number"),
        ('{"n": 1e400}', NON_FINITE_MESSAGE),
        ('{"n": ' + "9" * 400 + "}", INTEGER_RANGE_MESSAGE),
        ('{"n": ' + "9" * 5000 + "}", "4300 digits"),
        ('{"s": "\\u0000"}', NUL_MESSAGE),
        ('{"s": "\\ud800"}', SURROGATE_MESSAGE),
        ("[" * 5000 + "]" * 5000, "nested deeper"),
        ("{nope", "Expecting property name"),
    ],
    ids=["nan", "infinity", "1e400", "400-digits", "5000-digits", "nul", "surrogate", "deep", "syntax"],
)
def test_loads_json_refuses_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        loads_json(text)


def test_loads_json_reads_what_can_be_stored() -> None:
    assert loads_json('{"n": 1.5, "i": 9223372036854775807, "s": "✓"}') == {"n": 1.5, "i": MAX_INTEGER, "s": "✓"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[("1", 1), ("007", 7), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), ("9" * 30, None)],
        *[("9" * 5000, None), ("²", None), ("\u0661", None), ("-1", None), ("1 ", None), ("", None), ("1\x00", None)],
    ],
)
def test_database_id(text: str, expected: int | None) -> None:
    assert database_id(text) == expected


def test_portal_urls_take_ids_up_to_64_bits() -> None:
    assert reverse("executions:webhook-rotate", args=[MAX_ID]).endswith(f"/{MAX_ID}/rotate")
    assert reverse("automations:execution", args=["automation_x", 5]).endswith("/automation_x/executions/5")


# --- every service refuses it, naming the field --------------------------------------------------

RULE_CHANGES: list[tuple[str, dict[str, Any], str]] = [
    ("nul-name", {"name": "Low\x00Alert"}, "name"),
    ("surrogate-description", {"description": "\ud800"}, "description"),
    # the model field (its column is assigned_council_id); the API keeps the path assigned_council_id
    ("nul-council", {"assigned_council_id": "council\x00"}, "assigned_council"),
    ("nul-event-type", {"trigger_config": {"metric": "a\x00", "operator": "<", "value": 3}}, "trigger_config"),
    ("400-digit-condition", {"conditions": [{"type": "n", "operator": "=", "value": 10**400}]}, "conditions"),
    ("nan-condition", {"conditions": [{"type": "n", "operator": ">", "value": NAN}]}, "conditions"),
    ("inf-budget", {"action_config": {"recipients": ["owner"], "budget": INF}}, "action_config"),
    ("huge-max-budget", {"auto_approval_rules": {"max_budget": HUGE}}, "auto_approval_rules"),
    ("huge-max-frequency", {"auto_approval_rules": {"max_frequency_per_day": HUGE}}, "auto_approval_rules"),
    ("nul-in-json-key", {"action_config": {"recipients": ["owner"], "x\x00": 1}}, "action_config"),
]
RULE_IDS = [name for name, _, _ in RULE_CHANGES]


def _counts() -> tuple[int, int]:
    return AutomationRule.all_objects.count(), RuleVersion.objects.count()


@pytest.mark.parametrize(("name", "changes", "field"), RULE_CHANGES, ids=RULE_IDS)
def test_rule_create_refuses_naming_the_field(tenant, owner, name: str, changes: dict[str, Any], field: str) -> None:
    before = _counts()
    with pytest.raises(ValidationError) as refused:
        rule_create(tenant, {**LOW_PRODUCT_ALERT, **changes}, owner)
    assert field in refused.value.message_dict
    assert _counts() == before


@pytest.mark.parametrize(("name", "changes", "field"), RULE_CHANGES, ids=RULE_IDS)
def test_rule_update_refuses_naming_the_field(tenant, owner, name: str, changes: dict[str, Any], field: str) -> None:
    rule = make_rule(tenant, owner)
    before = _counts()
    with pytest.raises(ValidationError) as refused:
        rule_update(rule, changes, owner)
    assert field in refused.value.message_dict
    assert _counts() == before
    rule.refresh_from_db()
    assert (rule.name, rule.version, rule.conditions) == (LOW_PRODUCT_ALERT["name"], 1, LOW_PRODUCT_ALERT["conditions"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [(changes, field) for _, changes, field in RULE_CHANGES if field.endswith(("_config", "conditions", "_rules"))],
)
def test_the_model_clean_used_by_the_admin_refuses_json_fields(tenant, owner, changes, field) -> None:
    rule = make_rule(tenant, owner)
    for key, value in changes.items():
        setattr(rule, key, value)
    with pytest.raises(ValidationError) as refused:
        rule.clean()
    assert field in refused.value.message_dict


@pytest.mark.parametrize(
    "context",
    [{"n": NAN}, {"n": INF}, {"n": HUGE}, {"s": "a\x00b"}, {"s": "\ud800"}, {"nested": {"k\x00": 1}}],
    ids=["nan", "inf", "huge", "nul", "surrogate", "nul-key"],
)
def test_manual_run_refuses_the_context_and_writes_nothing(tenant, owner, context) -> None:
    from executions.models import AutomationExecution
    from executions.services import execute_rule_manually

    rule = make_rule(tenant, owner)
    with pytest.raises(ValidationError) as refused:
        execute_rule_manually(rule, context, owner)
    assert "context" in refused.value.message_dict
    assert not AutomationExecution.objects.exists()


def test_reject_refuses_a_reason_it_cannot_store(tenant, owner, council_member) -> None:
    from executions.services import execute_rule_manually, execution_reject

    rule = make_rule(tenant, owner, name="Critical Alert", risk_level="critical")
    execution = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    with pytest.raises(ValidationError) as refused:
        execution_reject(execution, council_member, "no\x00")
    assert refused.value.message_dict == {"reason": [NUL_MESSAGE]}
    execution.refresh_from_db()
    assert execution.status == "awaiting_approval"


@pytest.mark.parametrize(
    ("url", "description", "field"),
    [("https://hooks.example.com/\x00", "", "url"), ("https://hooks.example.com/a", "a\x00b", "description")],
)
def test_endpoint_create_refuses_text_it_cannot_store(tenant, url, description, field) -> None:
    from executions.delivery.models import WebhookEndpoint
    from executions.delivery.services import endpoint_create

    with pytest.raises(ValidationError) as refused:
        endpoint_create(tenant, url, description=description)
    assert refused.value.message_dict[field] == [NUL_MESSAGE]
    assert not WebhookEndpoint.objects.exists()


def test_a_huge_value_never_reaches_a_float_conversion() -> None:
    # the validators used to call math.isfinite() on it, which raises OverflowError past 1e308
    with pytest.raises(OverflowError):
        math.isfinite(HUGE)
    from automations.validators import validate_rule_definition

    errors = validate_rule_definition({**LOW_PRODUCT_ALERT, "auto_approval_rules": {"max_budget": HUGE}})
    assert errors == {"auto_approval_rules.max_budget": [INTEGER_RANGE_MESSAGE]}
