"""Behaviour detection on synthetic histories, positives and negatives."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.choices import TriggerSource
from executions.listeners.behavior import BehaviorWindow, check_behaviors, get_behavior_detector
from executions.models import AutomationExecution, BehaviorMatch, Event
from tests.factories import make_rule

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
_keys = itertools.count()


def hours_ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def event(tenant, customer: str, event_type: str, at: dt.datetime, **payload) -> Event:
    return Event.objects.create(
        tenant=tenant,
        customer_id=customer,
        event_type=event_type,
        payload=payload,
        occurred_at=at,
        idempotency_key=f"test-{next(_keys)}",
    )


def behavior_rule(tenant, owner, behavior: str, hours: float = 24, **config):
    trigger = {"behavior_type": behavior, "timeframe_hours": hours, **config}
    return make_rule(tenant, owner, trigger_type="behavior", trigger_config=trigger, conditions=[])


def fired(rule) -> list[AutomationExecution]:
    return list(AutomationExecution.objects.filter(automation_rule=rule).order_by("id"))


def customers(rule) -> list[str]:
    return sorted(e.trigger_data["customer_id"] for e in fired(rule))


# --- abandoned cart ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_abandoned_cart_fires_once_with_evidence(tenant, owner):
    rule = behavior_rule(tenant, owner, "abandoned_cart")
    event(tenant, "c1", "cart_updated", hours_ago(30), cart_id="cart-1", amount=42.5)
    cart = event(tenant, "c1", "cart_updated", hours_ago(25), cart_id="cart-1", amount=55)

    result = check_behaviors(NOW)
    again = check_behaviors(NOW + dt.timedelta(minutes=10))

    assert (result.fired, again.fired) == (1, 0)
    [execution] = fired(rule)
    assert execution.trigger_source == TriggerSource.BEHAVIOR
    assert execution.occurrence_key == f"behavior:c1:cart:{cart.pk}"
    data = execution.trigger_data
    assert data["customer_id"] == "c1"
    assert data["evidence"]["cart_event_id"] == cart.pk
    assert data["evidence"]["cart_activity_at"] == "2026-03-09T11:00:00Z"
    assert data["evidence"]["cart"] == {"cart_id": "cart-1", "amount": 55}


@pytest.mark.parametrize(
    "history",
    [
        [("cart_updated", 30), ("order_placed", 29)],  # cart then order -> nothing
        [("cart_updated", 30), ("order_placed", 1)],  # ordered late, but before the check
        [("cart_updated", 23)],  # not yet a timeframe old
        [("cart_updated", 30), ("cart_updated", 2)],  # still shopping
        [("cart_updated", 24 + 25)],  # abandoned before the catch-up window
        [("product_viewed", 30)],  # no cart activity at all
    ],
)
@pytest.mark.django_db
def test_abandoned_cart_negatives(tenant, owner, history):
    rule = behavior_rule(tenant, owner, "abandoned_cart")
    for event_type, age in history:
        event(tenant, "c1", event_type, hours_ago(age), amount=10)
    check_behaviors(NOW)
    assert fired(rule) == []


@pytest.mark.django_db
def test_checkout_started_is_cart_activity_and_an_older_order_does_not_count(tenant, owner):
    rule = behavior_rule(tenant, owner, "abandoned_cart")
    event(tenant, "c1", "order_placed", hours_ago(40), amount=10)
    event(tenant, "c1", "checkout_started", hours_ago(26))
    check_behaviors(NOW)
    assert customers(rule) == ["c1"]


@pytest.mark.django_db
def test_a_later_cart_fires_again_the_same_one_never(tenant, owner):
    rule = behavior_rule(tenant, owner, "abandoned_cart")
    event(tenant, "c1", "cart_updated", hours_ago(26))
    check_behaviors(NOW)
    event(tenant, "c1", "cart_updated", NOW + dt.timedelta(hours=1))  # comes back, abandons again
    check_behaviors(NOW + dt.timedelta(hours=2))  # too early for the new cart, old one already fired
    assert len(fired(rule)) == 1
    check_behaviors(NOW + dt.timedelta(hours=26))
    assert len(fired(rule)) == 2
    assert len({e.occurrence_key for e in fired(rule)}) == 2


@pytest.mark.django_db
def test_only_the_rules_tenant_and_several_customers_at_once(tenant, owner, other_tenant):
    rule = behavior_rule(tenant, owner, "abandoned_cart")
    for customer in ("a", "b", "c"):
        event(tenant, customer, "cart_updated", hours_ago(25))
    event(tenant, "b", "order_placed", hours_ago(24.5), amount=5)
    event(other_tenant, "z", "cart_updated", hours_ago(25))
    event(tenant, "", "cart_updated", hours_ago(25))  # no customer: not customer activity
    check_behaviors(NOW)
    assert customers(rule) == ["a", "c"]


# --- product viewed, not bought ------------------------------------------------------------------


@pytest.mark.django_db
def test_product_viewed_not_bought(tenant, owner):
    rule = behavior_rule(tenant, owner, "product_viewed_not_bought", hours=12)
    event(tenant, "viewer", "product_viewed", hours_ago(14), product_id="p1")
    last = event(tenant, "viewer", "product_viewed", hours_ago(13), product_id="p2")
    event(tenant, "buyer", "product_viewed", hours_ago(13), product_id="p1")
    event(tenant, "buyer", "order_placed", hours_ago(12.5), amount=20)
    event(tenant, "browsing", "product_viewed", hours_ago(3), product_id="p3")

    check_behaviors(NOW)
    check_behaviors(NOW)

    [execution] = fired(rule)
    assert execution.trigger_data["customer_id"] == "viewer"
    assert execution.trigger_data["evidence"]["product_id"] == "p2"
    assert execution.trigger_data["evidence"]["view_event_id"] == last.pk


# --- repeat purchase -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_repeat_purchase_within_the_timeframe(tenant, owner):
    rule = behavior_rule(tenant, owner, "repeat_purchase", hours=48)
    first = event(tenant, "loyal", "order_placed", hours_ago(30), amount=10)
    second = event(tenant, "loyal", "order_placed", hours_ago(1), amount=25)
    event(tenant, "once", "order_placed", hours_ago(1), amount=10)
    event(tenant, "slow", "order_placed", hours_ago(100), amount=10)
    event(tenant, "slow", "order_placed", hours_ago(2), amount=10)

    check_behaviors(NOW)
    check_behaviors(NOW + dt.timedelta(minutes=10))

    [execution] = fired(rule)
    evidence = execution.trigger_data["evidence"]
    assert execution.trigger_data["customer_id"] == "loyal"
    assert (evidence["order_event_id"], evidence["previous_order_event_id"]) == (second.pk, first.pk)
    assert evidence["amount"] in (25, "25")


@pytest.mark.django_db
def test_repeat_purchase_negative_when_the_previous_order_is_too_old(tenant, owner):
    rule = behavior_rule(tenant, owner, "repeat_purchase", hours=24)
    event(tenant, "c", "order_placed", hours_ago(30), amount=10)
    event(tenant, "c", "order_placed", hours_ago(1), amount=10)
    check_behaviors(NOW)
    assert fired(rule) == []


# --- high-value customer -------------------------------------------------------------------------


@pytest.mark.django_db
def test_high_value_customer(tenant, owner):
    rule = behavior_rule(tenant, owner, "high_value_customer", hours=24 * 30, min_total=100)
    event(tenant, "big", "order_placed", hours_ago(200), amount=60)
    last = event(tenant, "big", "order_placed", hours_ago(2), amount="50.5")
    event(tenant, "small", "order_placed", hours_ago(2), amount=99)
    event(tenant, "old", "order_placed", hours_ago(24 * 31), amount=500)  # outside the timeframe
    event(tenant, "weird", "order_placed", hours_ago(2), amount="lots")  # not a number: ignored
    event(tenant, "weird", "order_placed", hours_ago(2), amount=20)

    check_behaviors(NOW)
    check_behaviors(NOW + dt.timedelta(hours=1))  # at most once per customer per timeframe

    [execution] = fired(rule)
    evidence = execution.trigger_data["evidence"]
    assert execution.trigger_data["customer_id"] == "big"
    assert (evidence["total"], evidence["orders"], evidence["last_order_event_id"]) == (110.5, 2, last.pk)


# --- dormant customer ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_dormant_customer_and_coming_back(tenant, owner):
    rule = behavior_rule(tenant, owner, "dormant_customer", hours=72)
    event(tenant, "quiet", "order_placed", hours_ago(100), amount=5)
    last = event(tenant, "quiet", "customer_active", hours_ago(73))
    event(tenant, "busy", "customer_active", hours_ago(80))
    event(tenant, "busy", "product_viewed", hours_ago(3), product_id="p")

    check_behaviors(NOW)
    [execution] = fired(rule)
    assert execution.trigger_data["customer_id"] == "quiet"
    assert execution.trigger_data["evidence"]["last_event_id"] == last.pk

    event(tenant, "quiet", "customer_active", NOW + dt.timedelta(hours=1))
    check_behaviors(NOW + dt.timedelta(hours=74))
    assert customers(rule) == ["busy", "quiet", "quiet"]


# --- set-based, robust ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behavior", "config", "event_type", "age"),
    [
        ("abandoned_cart", {}, "cart_updated", 25),
        ("product_viewed_not_bought", {}, "product_viewed", 25),
        ("dormant_customer", {}, "customer_active", 25),
        ("repeat_purchase", {}, "order_placed", 2),
        ("high_value_customer", {"min_total": 1}, "order_placed", 2),
    ],
)
@pytest.mark.django_db
def test_detection_is_one_query_whatever_the_number_of_customers(tenant, owner, behavior, config, event_type, age):
    rule = behavior_rule(tenant, owner, behavior, **config)
    detector = get_behavior_detector(behavior)
    window = BehaviorWindow(NOW, dt.timedelta(hours=24), dt.timedelta(hours=24))
    counts = []
    for batch in range(2):
        for index in range(3 if batch == 0 else 30):
            customer = f"b{batch}-{index}"
            event(tenant, customer, event_type, hours_ago(age + batch), amount=10)
            event(tenant, customer, event_type, hours_ago(age + 1 + batch), amount=10)
        with CaptureQueriesContext(connection) as queries:
            found = detector(rule, window)
        counts.append(len(queries))
        assert found
    assert counts == [1, 1]


@pytest.mark.django_db
def test_a_bad_rule_does_not_stop_the_others(tenant, owner):
    good = behavior_rule(tenant, owner, "dormant_customer")
    bad = behavior_rule(tenant, owner, "dormant_customer")
    type(bad).objects.filter(pk=bad.pk).update(trigger_config={"behavior_type": "teleported", "timeframe_hours": 1})
    event(tenant, "c", "customer_active", hours_ago(25))
    result = check_behaviors(NOW)
    assert (result.rules, result.errors, result.fired) == (2, 1, 1)
    assert len(fired(good)) == 1


@pytest.mark.django_db
def test_a_match_row_already_there_means_no_second_firing(tenant, owner):
    rule = behavior_rule(tenant, owner, "abandoned_cart")
    cart = event(tenant, "c1", "cart_updated", hours_ago(25))
    BehaviorMatch.objects.create(rule=rule, customer_id="c1", occurrence=f"cart:{cart.pk}", matched_at=NOW)
    assert check_behaviors(NOW).fired == 0


@pytest.mark.django_db
def test_a_backlog_is_spread_over_ticks(tenant, owner, settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "BEHAVIOR_MAX_FIRES_PER_TICK": 2}
    rule = behavior_rule(tenant, owner, "dormant_customer")
    for index in range(5):
        event(tenant, f"c{index}", "customer_active", hours_ago(25 + index))
    fired_per_tick = [check_behaviors(NOW + dt.timedelta(minutes=10 * tick)).fired for tick in range(4)]
    assert fired_per_tick == [2, 2, 1, 0]
    assert customers(rule) == ["c0", "c1", "c2", "c3", "c4"]


@pytest.mark.django_db
def test_a_failing_trigger_is_retried_next_tick(tenant, owner, monkeypatch, pipeline_trigger_rule):
    import executions.pipeline

    rule = behavior_rule(tenant, owner, "abandoned_cart")
    event(tenant, "c1", "cart_updated", hours_ago(25))
    event(tenant, "c2", "cart_updated", hours_ago(25))
    calls = []

    def flaky(rule, source, data, occurrence_key=None, event=None):
        calls.append(data["customer_id"])
        if data["customer_id"] == "c1" and calls.count("c1") == 1:
            raise RuntimeError("pipeline down")
        return pipeline_trigger_rule(rule, source, data, occurrence_key=occurrence_key, event=event)

    batch_trigger = executions.pipeline.trigger_rules

    def flaky_batch(requests):
        # the batch holding c1's first firing fails as a whole; then each match is fired on its own
        if any(r.trigger_data["customer_id"] == "c1" for r in requests) and "c1" not in calls:
            raise RuntimeError("pipeline down")
        return batch_trigger(requests)

    monkeypatch.setattr(executions.pipeline, "trigger_rule", flaky)
    monkeypatch.setattr(executions.pipeline, "trigger_rules", flaky_batch)
    first = check_behaviors(NOW)
    assert (first.fired, first.errors) == (1, 1)
    assert not BehaviorMatch.objects.filter(rule=rule, customer_id="c1").exists()
    assert check_behaviors(NOW + dt.timedelta(minutes=10)).fired == 1
    assert customers(rule) == ["c1", "c2"]
    assert BehaviorMatch.objects.filter(rule=rule, execution__isnull=False).count() == 2
