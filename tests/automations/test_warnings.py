"""Warnings at save time (issue 16 item 3; docs/warnings.md): each code with a rule that gets it and one
that does not, and the API's create and update answers carrying them without blocking the save."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from automations.services import rule_draft
from automations.warnings import condition_conflicts, rule_warnings
from executions.models import Event, MetricSample
from governance.models import Council
from governance.services import council_member_add
from tests.api import patch_json, post_json, token_client
from tests.factories import make_rule, make_tenant, make_user

pytestmark = pytest.mark.django_db

EVENT_RULE = {
    "name": "Welcome",
    "trigger_type": "event",
    "trigger_config": {"event_type": "customer_created"},
    "conditions": [],
    "action_type": "start_workflow",
    "action_config": {"workflow_type_id": "welcome"},
    "risk_level": "low",
}


@pytest.fixture
def tenant():
    return make_tenant("tenant_a", timezone="America/New_York")


def codes(rule) -> list[tuple[str, str]]:
    return [(warning.code, warning.field) for warning in rule_warnings(rule)]


def draft(tenant, **fields):
    return rule_draft(tenant, {**EVENT_RULE, **fields})


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([{"type": "x", "operator": "<", "value": 3}, {"type": "x", "operator": ">", "value": 5}], "conditions[1]"),
        ([{"type": "x", "operator": "=", "value": "a"}, {"type": "x", "operator": "=", "value": "b"}], "conditions[1]"),
        ([{"type": "x", "operator": "=", "value": 10}, {"type": "x", "operator": "<", "value": 3}], "conditions[1]"),
        ([{"type": "x", "operator": ">=", "value": 5}, {"type": "x", "operator": "<", "value": 5}], "conditions[1]"),
        (
            [{"type": "x", "operator": "between", "value": [1, 2]}, {"type": "x", "operator": ">", "value": 2}],
            "conditions[1]",
        ),
    ],
)
def test_conditions_that_can_never_all_hold(conditions, expected):
    assert [(w.code, w.field) for w in condition_conflicts(conditions)] == [("conditions_contradict", expected)]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([{"type": "x", "operator": "<", "value": 3}, {"type": "x", "operator": "<", "value": 5}], ["conditions[1]"]),
        ([{"type": "x", "operator": ">=", "value": 5}, {"type": "x", "operator": ">", "value": 5}], ["conditions[0]"]),
        ([{"type": "x", "operator": "=", "value": 4}, {"type": "x", "operator": "<", "value": 5}], ["conditions[1]"]),
        ([{"type": "x", "operator": ">", "value": 1}, {"type": "x", "operator": "<", "value": 5}], []),
        ([{"type": "x", "operator": "<", "value": 3}, {"type": "y", "operator": ">", "value": 5}], []),
        ([{"type": "x", "operator": "=", "value": "a"}, {"type": "x", "operator": "!=", "value": "b"}], []),
    ],
)
def test_a_condition_another_already_guarantees(conditions, expected):
    warnings = list(condition_conflicts(conditions))
    assert [w.field for w in warnings] == expected
    assert all(w.code == "condition_implied" for w in warnings)


def test_unknown_context_key_names_the_closest_known_key(tenant):
    Event.objects.create(
        tenant=tenant, event_type="customer_created", idempotency_key="k1", payload={"product_count": 4}
    )
    rule = draft(tenant, conditions=[{"type": "product_cuont", "operator": "<", "value": 3}])
    warning, never = rule_warnings(rule)
    assert (warning.code, warning.field) == ("unknown_context_key", "conditions[0].type")
    assert never.code == "never_fires"  # and the backtest of the one event agrees
    assert "Did you mean product_count?" in warning.message
    known = draft(tenant, conditions=[{"type": "product_count", "operator": "<", "value": 5}])
    assert "unknown_context_key" not in [code for code, _ in codes(known)]
    builtin = draft(tenant, conditions=[{"type": "weekday", "operator": "=", "value": "monday"}])
    assert "unknown_context_key" not in [code for code, _ in codes(builtin)]


def test_a_tenant_without_any_history_gets_no_unknown_key_warning(tenant):
    rule = draft(tenant, conditions=[{"type": "anything", "operator": "<", "value": 3}])
    assert codes(rule) == []


def test_a_threshold_already_met_says_what_the_live_check_will_do(tenant):
    MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=2)
    rule = make_rule(tenant)  # product_count < 3
    (warning,) = [w for w in rule_warnings(rule) if w.code == "threshold_already_met"]
    assert warning.field == "trigger_config.value"
    assert "product_count is 2 now" in warning.message and "next check" in warning.message
    MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=7)
    assert [w for w in rule_warnings(rule) if w.code == "threshold_already_met"] == []


def test_another_enabled_rule_with_the_same_trigger_and_action_overlaps(tenant):
    make_rule(tenant, **{**EVENT_RULE, "name": "Welcome A", "conditions": [{"type": "x", "operator": ">", "value": 1}]})
    overlapping = draft(tenant, conditions=[{"type": "x", "operator": ">", "value": 5}])
    assert ("overlapping_rule", "trigger_config") in codes(overlapping)
    disjoint = draft(tenant, conditions=[{"type": "x", "operator": "<", "value": 0}])
    assert ("overlapping_rule", "trigger_config") not in codes(disjoint)
    other_event = draft(tenant, trigger_config={"event_type": "order_placed"})
    assert ("overlapping_rule", "trigger_config") not in codes(other_event)


def test_schedule_times_in_a_dst_gap_or_repeat(tenant):
    schedule = {"pattern": "daily", "timezone": "America/New_York"}
    gap = draft(tenant, trigger_type="schedule", trigger_config={**schedule, "time": "02:30"})
    repeat = draft(tenant, trigger_type="schedule", trigger_config={**schedule, "time": "01:30"})
    plain = draft(tenant, trigger_type="schedule", trigger_config={**schedule, "time": "09:00"})
    assert codes(gap) == [("schedule_dst_gap", "trigger_config.time")]
    assert codes(repeat) == [("schedule_dst_repeat", "trigger_config.time")]
    assert codes(plain) == []
    utc = draft(
        tenant, trigger_type="schedule", trigger_config={"pattern": "daily", "timezone": "UTC", "time": "02:30"}
    )
    assert codes(utc) == []


def test_a_notification_shown_only_in_the_inbox(tenant):
    inbox_only = draft(
        tenant, action_type="send_notification", action_config={"recipients": ["owner"], "message": "Hi"}
    )
    assert codes(inbox_only) == [("notification_in_app_only", "action_config.channels")]
    emailed = draft(
        tenant,
        action_type="send_notification",
        action_config={"recipients": ["owner"], "message": "Hi", "channels": ["email"]},
    )
    assert codes(emailed) == []


def test_a_critical_rule_nobody_can_approve(tenant):
    council = Council.objects.create(tenant=tenant, name="Night council")
    rule = draft(tenant, risk_level="critical")
    rule.assigned_council_id = council.pk
    assert codes(rule) == [("no_approver", "assigned_council_id")]
    council_member_add(council, make_user("ann", tenant, "owner"))
    assert codes(rule) == []
    viewer_only = Council.objects.create(tenant=tenant, name="Viewers")
    council_member_add(viewer_only, make_user("vic", tenant, "council"))
    rule.assigned_council_id = viewer_only.pk
    assert codes(rule) == []


def test_the_api_answers_warnings_on_create_and_update_and_saves_anyway(tenant):
    owner = make_user("olivia", tenant, "owner")
    client = token_client(owner)
    body = {
        **EVENT_RULE,
        "tenant_id": tenant.pk,
        "conditions": [{"type": "x", "operator": "<", "value": 3}, {"type": "x", "operator": ">", "value": 5}],
    }
    created = post_json(client, "/api/automations", body)
    assert created.status_code == 201, created.content
    assert [(w["code"], w["field"]) for w in created.json()["warnings"]] == [("conditions_contradict", "conditions[1]")]
    rule_id = created.json()["automation"]["id"]

    updated = patch_json(client, f"/api/automations/{rule_id}", {"conditions": []})
    assert updated.status_code == 200 and updated.json()["warnings"] == []


def test_a_warning_check_that_breaks_never_stops_a_save(tenant, monkeypatch):
    from automations import warnings

    def broken(rule):
        raise RuntimeError("boom")

    monkeypatch.setattr(warnings, "WARNING_CHECKS", [broken, *warnings.WARNING_CHECKS])
    assert codes(draft(tenant)) == []


def test_a_backtest_says_when_a_rule_would_fire_on_most_triggers_or_never(tenant):
    for index in range(6):
        Event.objects.create(
            tenant=tenant, event_type="customer_created", idempotency_key=f"c{index}", payload={"spent": index * 10}
        )
    broad = draft(tenant, conditions=[{"type": "spent", "operator": ">=", "value": 10}])  # 5 of 6
    assert ("fires_too_often", "conditions") in codes(broad)
    narrow = draft(tenant, conditions=[{"type": "spent", "operator": ">=", "value": 40}])  # 2 of 6
    assert [code for code, _ in codes(narrow)] == []
    never = draft(tenant, conditions=[{"type": "spent", "operator": ">", "value": 1000}])
    assert ("never_fires", "conditions") in codes(never)
    other_type = draft(tenant, trigger_config={"event_type": "order_placed"})
    assert codes(other_type) == [("never_fires", "trigger_config")]


CART_REMINDER = {
    **EVENT_RULE,
    "name": "Cart reminder",
    "trigger_type": "behavior",
    "trigger_config": {"behavior_type": "abandoned_cart", "timeframe_hours": 2},
}


def abandoned_carts(tenant) -> None:
    """Four carts left a day ago (c1 to c4), and one bought within the hour (c5): four occurrences."""
    day_ago = timezone.now() - dt.timedelta(hours=30)
    bought = day_ago + dt.timedelta(minutes=30)
    activity = [(customer, "cart_updated", day_ago) for customer in ("c1", "c2", "c3", "c4", "c5")]
    for index, (customer, event_type, at) in enumerate([*activity, ("c5", "order_placed", bought)]):
        Event.objects.create(
            tenant=tenant,
            event_type=event_type,
            customer_id=customer,
            idempotency_key=f"activity-{index}",
            occurred_at=at,
            received_at=at,
            dispatched_at=at,
        )


def backtest_codes(rule) -> list[tuple[str, str]]:
    return [(code, field) for code, field in codes(rule) if code in ("fires_too_often", "never_fires")]


def test_a_behaviour_rules_backtest_says_when_it_would_fire_on_most_occurrences_or_never(tenant):
    abandoned_carts(tenant)
    broad = {**CART_REMINDER, "conditions": [{"type": "customer_id", "operator": "!=", "value": "c1"}]}
    assert backtest_codes(rule_draft(tenant, broad)) == [("fires_too_often", "conditions")]  # 3 of 4
    narrow = {**CART_REMINDER, "conditions": [{"type": "customer_id", "operator": "=", "value": "c1"}]}
    assert backtest_codes(rule_draft(tenant, narrow)) == []  # 1 of 4
    never = {**CART_REMINDER, "conditions": [{"type": "customer_id", "operator": "=", "value": "c9"}]}
    assert backtest_codes(rule_draft(tenant, never)) == [("never_fires", "conditions")]
    repeat = {**CART_REMINDER, "trigger_config": {"behavior_type": "repeat_purchase", "timeframe_hours": 48}}
    assert backtest_codes(rule_draft(tenant, repeat)) == [("never_fires", "trigger_config")]  # nobody ordered twice


def test_a_behaviour_replay_out_of_time_warns_nothing(tenant, monkeypatch):
    from executions import rule_warnings

    abandoned_carts(tenant)
    monkeypatch.setattr(rule_warnings, "WARNING_BEHAVIOR_SECONDS", -1)
    never = {**CART_REMINDER, "conditions": [{"type": "customer_id", "operator": "=", "value": "c9"}]}
    assert backtest_codes(rule_draft(tenant, never)) == []  # the hours not replayed are not known to be quiet
