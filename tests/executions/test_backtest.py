"""Backtest (issue 16 item 1): replaying stored history through the live trigger logic, conditions and
governance, writing nothing; the same would-fire set as the live pipeline over the same history."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automations.models import AutomationRule
from automations.services import rule_draft
from executions.backtest import MAX_SAMPLES, backtest_rule
from executions.choices import ExecutionStatus
from executions.listeners.behavior import check_behaviors
from executions.listeners.threshold import check_metric_thresholds, check_thresholds
from executions.models import AutomationExecution, Event, MetricSample, ThresholdState
from executions.pipeline import match_events
from tests.api import post_json, token_client
from tests.factories import make_rule, make_tenant, make_user
from tests.overrides import override_automations

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
PAID = {
    "name": "Big order",
    "trigger_type": "event",
    "trigger_config": {"event_type": "order_placed"},
    "conditions": [
        {"type": "amount", "operator": ">=", "value": 100},
        {"type": "currency", "operator": "=", "value": "EUR"},
    ],
    "action_type": "start_workflow",
    "action_config": {"workflow_type_id": "vip"},
    "risk_level": "low",
}


@pytest.fixture
def tenant():
    return make_tenant("tenant_a", timezone="Europe/Berlin")


def order(tenant, days_ago: float, key: str, **payload) -> Event:
    at = NOW - dt.timedelta(days=days_ago)
    return Event.objects.create(
        tenant=tenant, event_type="order_placed", idempotency_key=key, payload=payload, occurred_at=at, received_at=at
    )


def test_an_event_rule_replays_the_windows_events_and_writes_nothing(tenant):
    rule = make_rule(tenant, **PAID)
    order(tenant, 1, "a", amount=150, currency="EUR")  # fires
    order(tenant, 2, "b", amount=50, currency="EUR")  # amount fails
    order(tenant, 3, "c", currency="EUR")  # amount missing
    order(tenant, 3.5, "d", amount=500, currency="USD")  # currency fails
    order(tenant, 40, "old", amount=900, currency="EUR")  # outside 30 days
    Event.objects.create(tenant=tenant, event_type="cart_updated", idempotency_key="e", payload={"amount": 999})
    other = make_tenant("tenant_b")
    order(other, 1, "theirs", amount=999, currency="EUR")

    result = backtest_rule(rule, 30, now=NOW).as_dict()

    assert (result["triggers_seen"], result["would_fire"]) == (4, 1)
    assert result["conditions"] == [
        {"condition": PAID["conditions"][0], "passed": 2, "failed": 1, "missing": 1},
        {"condition": PAID["conditions"][1], "passed": 3, "failed": 1, "missing": 0},
    ]
    assert result["governance"] == {"auto_approved": 1, "needs_approval": 0, "held_by_cap": 0}
    assert len(result["by_day"]) == 31 and sum(day["would_fire"] for day in result["by_day"]) == 1
    assert result["by_day"][-2] == {"date": "2026-12-05", "would_fire": 1}
    (sample,) = result["samples"]
    assert sample["trigger_data"]["amount"] == 150 and "2 conditions passed" in sample["why"]
    assert result["window"] == {"from": "2026-11-06T12:00:00+00:00", "to": "2026-12-06T12:00:00+00:00"}
    assert result["per_day_estimate"] == round(1 / 30, 2)
    assert not AutomationExecution.objects.exists()


def test_governance_is_decided_per_replayed_run_with_the_days_own_count(tenant):
    rule = make_rule(tenant, **{**PAID, "conditions": [], "auto_approval_rules": {"max_frequency_per_day": 2}})
    for index in range(4):
        order(tenant, 1 + index / 100, f"same-day-{index}")
    order(tenant, 5, "other-day")
    result = backtest_rule(rule, 30, now=NOW)
    assert dict(result.governance) == {"auto_approved": 3, "held_by_cap": 2}
    high = make_rule(tenant, **{**PAID, "name": "High", "conditions": [], "risk_level": "high"})
    assert dict(backtest_rule(high, 30, now=NOW).governance) == {"needs_approval": 5}


AMOUNTS = st.one_of(
    st.integers(0, 300),
    st.integers(0, 300).map(str),
    # Storable text only: ingestion refuses NUL and lone surrogates (governance/common/storable.py), and
    # PostgreSQL's jsonb could not hold them.
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=3),
    st.none(),
    st.floats(-1e6, 1e6),
    st.booleans(),
)
PAYLOADS = st.one_of(
    st.just({"amount": 150, "currency": "EUR"}),  # passes: half the events, so governance has runs to decide
    st.fixed_dictionaries({}, optional={"amount": AMOUNTS, "currency": st.sampled_from(["EUR", "USD", "eur", ""])}),
)
# Governance variants: how each replays (in groups or one by one) and what the live count of the day reads.
GOVERNED = {
    "plain": ({}, True),
    "cap": ({"auto_approval_rules": {"max_frequency_per_day": 2}}, True),
    # every run waits (over budget): none is allowed to run, so the cap never counts one and never holds one
    "over_budget_and_cap": (
        {
            "action_config": {"workflow_type_id": "vip", "budget": 50},
            "auto_approval_rules": {"max_budget": 10, "max_frequency_per_day": 1},
        },
        True,
    ),
    # who posted decides which runs count towards the cap: the day's order decides, replayed one by one
    "trusted_and_cap": ({"auto_approval_rules": {"trusted_users_only": True, "max_frequency_per_day": 2}}, False),
}


def posters(tenant) -> dict[str, object]:
    from governance.models import TrustedUser

    users = {}
    for name in ("tina", "mark"):
        users[name] = User.objects.filter(username=name).first() or make_user(name, tenant, "collaborator")
    TrustedUser.objects.get_or_create(tenant=tenant, user=users["tina"])
    return {"trusted": users["tina"], "member": users["mark"], "nobody": None}


def live_governance(executions) -> Counter:
    """The backtest's governance counts, read from what the live pipeline did."""
    counts: Counter = Counter()
    for execution in executions:
        if execution.status == ExecutionStatus.AWAITING_APPROVAL:
            checks = (execution.governance_decision or {}).get("checks", [])
            capped = any(check["rule"] == "max_frequency_per_day" and not check["passed"] for check in checks)
            counts["held_by_cap" if capped else "needs_approval"] += 1
        else:
            counts["auto_approved"] += 1
    return counts


@pytest.mark.parametrize("variant", sorted(GOVERNED))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(st.tuples(PAYLOADS, st.sampled_from(["trusted", "member", "nobody"])), max_size=MAX_SAMPLES))
def test_backtest_equals_live_for_generated_event_histories(tenant, variant, history):
    # given an event history run by the live pipeline (each event matched and run as it arrives, so each
    # run sees the day's count of the runs before it) and replayed by the backtest
    AutomationExecution.objects.all().delete()
    Event.objects.all().delete()
    AutomationRule.all_objects.all().delete()  # one rule per example, so every execution runs in this process
    overrides, grouped = GOVERNED[variant]
    rule = make_rule(tenant, **{**PAID, "name": f"Big order {len(history)}", **overrides})
    people = posters(tenant)
    for index, (payload, poster) in enumerate(history):
        event = order(tenant, 1 + (len(history) - index) / 1000, f"k{index}", **payload)  # in the order they occur
        Event.objects.filter(pk=event.pk).update(actor=people[poster])
        match_events([event.pk])
    replayed = backtest_rule(rule, 30, now=NOW)
    # then the backtest fires for the events whose live execution went past its conditions, tallies each
    # condition as the live runs found it, and governs them as live did
    live = list(AutomationExecution.objects.filter(automation_rule=rule).order_by("event__occurred_at", "event_id"))
    fired = [execution for execution in live if execution.status != ExecutionStatus.SKIPPED]
    assert replayed.grouped is grouped
    assert (replayed.triggers_seen, replayed.would_fire) == (len(history), len(fired))
    assert [sample["trigger_data"]["event"]["id"] for sample in replayed.samples] == [e.event_id for e in fired]
    for index, tally in enumerate(replayed.conditions):
        assert tally.passed == sum(1 for e in live if e.condition_results[index]["passed"])
    assert +replayed.governance == live_governance(fired), [(e.status, e.governance_decision) for e in fired]
    assert sum(replayed.by_day.values()) == len(fired)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(
        st.tuples(st.integers(0, 90 * 24 * 60), PAYLOADS, st.sampled_from(["trusted", "member", "nobody"])),
        max_size=15,
    ),
    hours=st.sampled_from([{}, {"auto_approval_rules": {"business_hours_only": True}}]),
)
def test_a_replay_in_groups_equals_one_by_one_on_built_ins_and_business_hours(tenant, history, hours):
    # given events over 90 days (a daylight-saving change included) and a rule on the hour and the weekday
    # of each event, and the same rule with a condition on the event's own metadata (replayed one by one)
    Event.objects.all().delete()
    AutomationRule.all_objects.all().delete()
    people = posters(tenant)
    conditions = [
        {"type": "hour", "operator": ">=", "value": 12},
        {"type": "weekday", "operator": "in", "value": ["monday", "saturday", "sunday"]},
        {"type": "amount", "operator": ">=", "value": 100},
    ]
    grouped = make_rule(tenant, **{**PAID, "name": "Grouped", "conditions": conditions, **hours})
    on_the_event = [*conditions, {"type": "event.type", "operator": "=", "value": "order_placed"}]
    each = make_rule(tenant, **{**PAID, "name": "One by one", "conditions": on_the_event, **hours})
    for index, (minutes_ago, payload, poster) in enumerate(history):
        event = order(tenant, minutes_ago / (24 * 60), f"k{index}", **payload)
        Event.objects.filter(pk=event.pk).update(actor=people[poster])
    # when both are replayed
    in_groups, one_by_one = backtest_rule(grouped, 90, now=NOW), backtest_rule(each, 90, now=NOW)
    # then they answer alike
    assert (in_groups.grouped, one_by_one.grouped) == (True, False)
    assert in_groups.as_dict()["conditions"] == one_by_one.as_dict()["conditions"][:3]
    for key in ("triggers_seen", "would_fire", "by_day", "governance"):
        assert in_groups.as_dict()[key] == one_by_one.as_dict()[key], key
    assert [s["trigger_data"]["event"]["id"] for s in in_groups.samples] == [
        s["trigger_data"]["event"]["id"] for s in one_by_one.samples
    ]
    assert [s["why"].split("; ")[1] for s in in_groups.samples] == [s["why"].split("; ")[1] for s in one_by_one.samples]


def samples(tenant, metric, values_by_minute):
    start = NOW - dt.timedelta(days=2)
    for minute, value in values_by_minute:
        MetricSample.objects.create(
            tenant=tenant, metric=metric, value_number=value, recorded_at=start + dt.timedelta(minutes=minute)
        )


def test_a_threshold_fires_once_per_upward_crossing(tenant):
    rule = make_rule(tenant)  # product_count < 3, store_status = active
    MetricSample.objects.create(
        tenant=tenant, metric="store_status", value_text="active", recorded_at=NOW - dt.timedelta(days=5)
    )
    samples(tenant, "product_count", [(0, 5), (1, 2), (2, 1), (3, 4), (4, 2), (5, 9)])
    result = backtest_rule(rule, 30, now=NOW)
    assert (result.triggers_seen, result.would_fire) == (2, 2)
    assert result.conditions[0].passed == 2  # store_status was active as of each crossing


def test_a_crossing_before_the_window_does_not_fire_again_inside_it(tenant):
    rule = make_rule(tenant, conditions=[])
    MetricSample.objects.create(
        tenant=tenant, metric="product_count", value_number=1, recorded_at=NOW - dt.timedelta(days=40)
    )
    samples(tenant, "product_count", [(0, 2), (10, 1)])  # still met: no new crossing
    assert backtest_rule(rule, 30, now=NOW).would_fire == 0


def test_for_minutes_fires_at_the_tick_after_it_has_held_and_not_if_it_stops_first(tenant):
    held = make_rule(
        tenant,
        conditions=[],
        trigger_config={"metric": "product_count", "operator": "<", "value": 3, "for_minutes": 10},
    )
    samples(tenant, "product_count", [(0, 2), (3, 1)])
    result = backtest_rule(held, 30, now=NOW)
    assert result.would_fire == 1
    assert result.fired_at[0] == NOW - dt.timedelta(days=2) + dt.timedelta(minutes=10)
    MetricSample.objects.all().delete()
    samples(tenant, "product_count", [(0, 2), (7, 8)])  # back above before 10 minutes
    assert backtest_rule(held, 30, now=NOW).would_fire == 0


def test_threshold_backtest_equals_the_live_listener(tenant):
    # given samples pushed one by one to the live listener (each checked as it arrives, the tick every 5 min)
    rule = make_rule(tenant, conditions=[])
    values = [(0, 5), (2, 2), (4, 2), (6, 7), (8, 1), (9, 0), (13, 6), (15, 2)]
    start = NOW - dt.timedelta(days=1)
    for minute, value in values:
        at = start + dt.timedelta(minutes=minute)
        MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=value, recorded_at=at)
        check_metric_thresholds(tenant.pk, "product_count", now=at)
    check_thresholds(now=start + dt.timedelta(minutes=20))
    live = AutomationExecution.objects.filter(automation_rule=rule).count()
    ThresholdState.objects.all().delete()
    # then the backtest over the same samples fires as often
    assert backtest_rule(rule, 30, now=NOW).would_fire == live == 3


def test_a_schedule_replays_its_slots_with_the_built_ins_of_each(tenant):
    rule = rule_draft(
        tenant,
        {
            **PAID,
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "daily", "time": "09:00"},
            "conditions": [{"type": "weekday", "operator": "=", "value": "monday"}],
        },
    )
    result = backtest_rule(rule, 14, now=NOW)
    assert result.triggers_seen == 14 and result.would_fire == 2  # two Mondays in 14 days
    assert all(moment.astimezone(tenant.zone).hour == 9 for moment in result.fired_at)


def test_a_schedule_condition_on_unknowable_data_is_said(tenant):
    rule = rule_draft(
        tenant,
        {
            **PAID,
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "daily", "time": "09:00"},
            "conditions": [{"type": "cart_total", "operator": ">", "value": 3}],
        },
    )
    result = backtest_rule(rule, 7, now=NOW)
    assert result.would_fire == 0 and "cart_total cannot be known" in result.warnings[0]


def test_a_window_longer_than_the_history_kept_is_reported(tenant):
    rule = make_rule(tenant, **PAID)
    with override_automations(HISTORY_RETENTION_DAYS=10):
        result = backtest_rule(rule, 30, now=NOW)
    assert result.warnings == [
        "History is kept 10 days: the first 20 days of this window have no events or samples left, so they "
        "count as quiet."
    ]


# --- the API ---------------------------------------------------------------------------------------


def test_api_backtests_a_saved_and_an_unsaved_rule(tenant):
    owner = make_user("olivia", tenant, "owner")
    client = token_client(owner)
    rule = make_rule(tenant, owner, **PAID)
    order(tenant, 1, "a", amount=150, currency="EUR")

    saved = post_json(client, f"/api/automations/{rule.pk}/backtest", {"days": 7})
    assert saved.status_code == 200, saved.content
    assert (saved.json()["days"], saved.json()["would_fire"]) == (7, 1)
    assert len(saved.json()["by_day"]) in (7, 8)

    unsaved = post_json(client, "/api/automations/backtest", {"rule": {**PAID, "tenant_id": tenant.pk}})
    assert unsaved.status_code == 200 and unsaved.json()["days"] == 30 and unsaved.json()["would_fire"] == 1
    assert not AutomationExecution.objects.exists()


@pytest.mark.parametrize("days", [0, 91, "7", 2.5, True, None])
def test_api_refuses_a_bad_number_of_days(tenant, days):
    owner = make_user("olivia", tenant, "owner")
    rule = make_rule(tenant, owner, **PAID)
    response = post_json(token_client(owner), f"/api/automations/{rule.pk}/backtest", {"days": days})
    assert response.status_code == 400 and response.json() == {"days": ["A whole number of days from 1 to 90."]}


def test_api_unsaved_rule_errors_are_those_of_create(tenant):
    owner = make_user("olivia", tenant, "owner")
    client = token_client(owner)
    bad = post_json(client, "/api/automations/backtest", {"rule": {**PAID, "tenant_id": tenant.pk, "conditions": "x"}})
    created = post_json(client, "/api/automations", {**PAID, "tenant_id": tenant.pk, "conditions": "x"})
    assert bad.status_code == created.status_code == 400
    assert bad.json() == created.json()


ABANDONED = {
    **PAID,
    "name": "Cart reminder",
    "trigger_type": "behavior",
    "trigger_config": {"behavior_type": "abandoned_cart", "timeframe_hours": 2},
    "conditions": [],
}


def activity(tenant, customer: str, event_type: str, hours_ago: float, key: str) -> None:
    at = NOW - dt.timedelta(hours=hours_ago)
    Event.objects.create(
        tenant=tenant,
        event_type=event_type,
        customer_id=customer,
        idempotency_key=key,
        occurred_at=at,
        received_at=at,
        dispatched_at=at,
    )


def carts(tenant) -> None:
    activity(tenant, "c1", "cart_updated", 30, "c1-cart")  # abandoned: fires once
    activity(tenant, "c2", "cart_updated", 30, "c2-cart")
    activity(tenant, "c2", "order_placed", 29, "c2-order")  # bought within the timeframe: never
    activity(tenant, "c3", "cart_updated", 50, "c3-cart-1")  # abandoned, then a new cart later: twice
    activity(tenant, "c3", "cart_updated", 20, "c3-cart-2")
    activity(tenant, "c4", "cart_updated", 1, "c4-cart")  # not two hours old yet: not yet


def test_a_behaviour_fires_once_per_occurrence(tenant):
    carts(tenant)
    result = backtest_rule(rule_draft(tenant, ABANDONED), 3, now=NOW)
    customers = sorted(sample["trigger_data"]["customer_id"] for sample in result.samples)
    assert customers == ["c1", "c3", "c3"]
    assert result.would_fire == result.triggers_seen == 3


def test_a_behaviour_backtest_equals_the_live_tick(tenant):
    # given the same activity replayed by the backtest and by the live tick, hour by hour
    carts(tenant)
    rule = make_rule(tenant, **ABANDONED)
    replayed = backtest_rule(rule, 3, now=NOW)
    tick = NOW - dt.timedelta(days=3)
    while tick <= NOW:
        check_behaviors(now=tick)
        tick += dt.timedelta(minutes=60)
    live = AutomationExecution.objects.filter(automation_rule=rule)
    # then they found the same occurrences (the saved rule's own matches do not hide them from the replay)
    assert sorted(live.values_list("trigger_data__occurrence", flat=True)) == sorted(
        sample["trigger_data"]["occurrence"] for sample in replayed.samples
    )
    again = backtest_rule(rule, 3, now=NOW)
    assert again.would_fire == replayed.would_fire == 3


def spend(tenant, customer: str, hours_ago: float, amount: int, key: str) -> None:
    at = NOW - dt.timedelta(hours=hours_ago)
    Event.objects.create(
        tenant=tenant,
        event_type="order_placed",
        customer_id=customer,
        idempotency_key=key,
        payload={"amount": amount},
        occurred_at=at,
        received_at=at,
        dispatched_at=at,
    )


@pytest.mark.parametrize(
    "trigger_config",
    [
        {"behavior_type": "high_value_customer", "timeframe_hours": 12, "min_total": 500},
        {"behavior_type": "repeat_purchase", "timeframe_hours": 24},
        {"behavior_type": "dormant_customer", "timeframe_hours": 6},
        {"behavior_type": "product_viewed_not_bought", "timeframe_hours": 2},
    ],
    ids=lambda config: config["behavior_type"],
)
def test_every_behaviour_backtest_equals_the_live_tick_though_it_skips_quiet_hours(tenant, trigger_config):
    # given activity over three days: orders already over the bar at the first tick, a new latest order held
    # back by the once-per-T rule that matches T later with no order coming or going, repeat orders, an order
    # stored after a later one (a higher id for an older order), views, quiet stretches
    carts(tenant)
    spend(tenant, "h1", 80, 300, "h1-a")
    spend(tenant, "h1", 78, 300, "h1-b")  # over 500 within 12 h at the first tick: fires
    spend(tenant, "h1", 70.5, 600, "h1-c")  # within T of that: held back, then matches at T after it
    spend(tenant, "h1", 30, 250, "h1-d")
    spend(tenant, "h2", 20, 450, "h2-late")
    spend(tenant, "h2", 25, 100, "h2-early")  # stored after the later one: the latest order by id is older
    activity(tenant, "v1", "product_viewed", 10, "v1-view")
    rule = make_rule(tenant, **{**ABANDONED, "name": "Behaviour", "trigger_config": trigger_config})
    replayed = backtest_rule(rule, 3, now=NOW)
    # when the live tick runs every hour of the same window (catching up one hour, as the replay's ticks do)
    tick = NOW - dt.timedelta(days=3, hours=-1)
    with override_automations(BEHAVIOR_CATCHUP_HOURS=1):
        while tick <= NOW:
            check_behaviors(now=tick)
            tick += dt.timedelta(minutes=60)
    # then both found the same occurrences
    live = AutomationExecution.objects.filter(automation_rule=rule)
    occurrences = sorted(live.values_list("trigger_data__occurrence", flat=True))
    assert occurrences == sorted(sample["trigger_data"]["occurrence"] for sample in replayed.samples)
    assert occurrences  # each behaviour finds something in this history


def test_the_api_backtests_a_behaviour(tenant, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)  # the server's clock at the test's moment
    owner = make_user("olivia", tenant, "owner")
    carts(tenant)
    response = post_json(
        token_client(owner), "/api/automations/backtest", {"rule": {**ABANDONED, "tenant_id": tenant.pk}, "days": 3}
    )
    assert response.status_code == 200, response.content
    assert response.json()["would_fire"] == 3


def test_api_backtest_needs_the_test_role_and_stays_in_the_tenant(tenant):
    owner = make_user("olivia", tenant, "owner")
    rule = make_rule(tenant, owner, **PAID)
    viewer = make_user("vera", tenant, "viewer")
    assert post_json(token_client(viewer), f"/api/automations/{rule.pk}/backtest", {}).status_code == 403
    stranger = make_user("sam", make_tenant("tenant_b"), "owner")
    assert post_json(token_client(stranger), f"/api/automations/{rule.pk}/backtest", {}).status_code == 404


@pytest.mark.parametrize(
    ("conditions", "grouped"), [([], True), ([{"type": "event.type", "operator": "=", "value": "order_placed"}], False)]
)
def test_a_replay_stops_at_its_trigger_cap_and_says_so(tenant, conditions, grouped):
    rule = make_rule(tenant, **{**PAID, "conditions": conditions})
    for index in range(3):
        order(tenant, 3 - index, f"capped-{index}")
    result = backtest_rule(rule, 30, now=NOW, max_triggers=2, max_grouped_in_sql=2)
    assert (result.grouped, result.stopped_early) == (grouped, True)
    assert (result.triggers_seen, result.would_fire) == (2, 2)
    assert result.warnings == ["Stopped after the first 2 triggers of the window."]


def test_a_behaviour_replay_that_runs_out_of_time_says_how_far_it_got(tenant):
    carts(tenant)
    result = backtest_rule(rule_draft(tenant, ABANDONED), 3, now=NOW, behavior_seconds=-1)
    assert result.triggers_seen == 0
    assert result.warnings[0].startswith("Replayed up to 2026-12-03T13:00:00Z only")


def test_the_backtest_service_checks_the_days_and_the_role_for_every_surface(tenant):
    from django.core.exceptions import PermissionDenied, ValidationError

    from executions.backtest import rule_backtest

    owner, viewer = make_user("olivia", tenant, "owner"), make_user("vera", tenant, "viewer")
    collaborator = make_user("carl", tenant, "collaborator")
    rule = make_rule(tenant, owner, **PAID)
    with pytest.raises(ValidationError) as error:
        rule_backtest(rule, owner, 91)
    assert error.value.message_dict == {"days": ["A whole number of days from 1 to 90."]}
    with pytest.raises(PermissionDenied):
        rule_backtest(rule, viewer, 7)
    risky = make_rule(tenant, owner, **{**PAID, "name": "Risky", "risk_level": "high"})
    with pytest.raises(PermissionDenied):
        rule_backtest(risky, collaborator, 7)
    assert rule_backtest(rule, collaborator, 7).days == 7
