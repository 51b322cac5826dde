"""Recommendations: a valid catalogue, scores that follow the signals, reasons that quote them,
templates the tenant already runs left out, and a stable order."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.choices import Category, TriggerType
from automations.recommendations import CATALOGUE, Recommendation, Signals, recommend, rule_shape
from automations.services import rule_archive, rule_create, rule_set_enabled
from automations.validators import validate_rule_definition
from tests.factories import make_rule

SPEC_CONTEXT = {
    "product_count": 2,
    "store_performance": "good",
    "recent_campaigns": 0,
    "seasonal_context": "holiday_season",
}
# The tests' date when the context names no season: in autumn, the holiday season's run-up.
OCTOBER = dt.date(2026, 10, 15)
AUTUMN_REASON = "It's autumn (15 October in UTC)"
SPEC_KEYS = {"name", "description", "category", "relevance_score", "reasoning", "suggested_config"}


def scores(context: Any, today: dt.date = OCTOBER) -> dict[str, float]:
    return {rec.name: rec.relevance_score for rec in recommend(None, context, today=today)}


def by_name(context: Any, today: dt.date = OCTOBER) -> dict[str, Recommendation]:
    return {rec.name: rec for rec in recommend(None, context, today=today)}


# --- the catalogue -------------------------------------------------------------------------------


@pytest.mark.parametrize("template", CATALOGUE, ids=lambda template: template.key)
def test_every_suggested_config_passes_the_create_validator_unchanged(template):
    config = template.suggested_config
    assert validate_rule_definition(config) == {}
    assert config["name"] == template.name
    assert config["category"] == template.category
    for key in ("description", "conditions", "risk_level", "requires_approval", "auto_approval_rules"):
        assert key in config, f"{template.key} suggests a full rule body, {key} included"


@pytest.mark.django_db
def test_every_suggested_config_creates_a_rule(tenant, owner):
    for template in CATALOGUE:
        created = rule_create(tenant, dict(template.suggested_config), owner)
        assert created.name == template.name


def test_catalogue_spans_categories_and_trigger_types():
    assert len(CATALOGUE) >= 15
    assert {template.category for template in CATALOGUE} == set(Category.values)
    assert {template.suggested_config["trigger_type"] for template in CATALOGUE} == set(TriggerType.values)
    assert len({template.name for template in CATALOGUE}) == len(CATALOGUE)
    assert len({template.key for template in CATALOGUE}) == len(CATALOGUE)
    assert all(0 < template.base_score <= 0.5 for template in CATALOGUE)


# --- the spec's example and an empty context -----------------------------------------------------


def test_spec_example_puts_low_product_alert_first():
    # when
    results = recommend(None, SPEC_CONTEXT, today=OCTOBER)

    # then
    assert len(results) >= 4
    first = results[0]
    assert first.name == "Low Product Alert"
    assert first.relevance_score >= 0.9
    assert first.reasoning.startswith("Your product count is 2, below the 3 ")
    assert set(first.as_dict()) >= SPEC_KEYS
    assert first.as_dict()["suggested_config"] == first.suggested_config
    holiday = by_name(SPEC_CONTEXT)["Holiday Season Campaign"]
    assert holiday.relevance_score > 0.7
    assert "It's the holiday season" in holiday.reasoning
    assert "You've run 0 campaigns recently" in holiday.reasoning


def test_empty_context_gives_general_recommendations_at_lower_scores():
    """Only the date speaks: the seasonal templates move by today's season (autumn), the others keep their
    base score and general reason."""
    results = recommend(None, {}, today=OCTOBER)
    assert len(results) == len(CATALOGUE)
    assert max(rec.relevance_score for rec in results) <= 0.55
    assert max(rec.relevance_score for rec in results) < recommend(None, SPEC_CONTEXT, today=OCTOBER)[0].relevance_score
    template_by_name = {template.name: template for template in CATALOGUE}
    seasonal = 0
    for rec in results:
        template = template_by_name[rec.name]
        if rec.contributions:
            [season] = rec.contributions
            assert season.reason.startswith(AUTUMN_REASON) and season.reason in rec.reasoning
            assert rec.relevance_score == round(template.base_score + season.delta, 2)
            seasonal += 1
        else:
            assert rec.reasoning == template.general_reason
            assert rec.relevance_score == template.base_score
    assert seasonal >= 4


@pytest.mark.parametrize("context", [None, [], "product_count=2", 42])
def test_a_context_that_is_not_an_object_counts_as_empty(context):
    assert scores(context) == scores({})


# --- signals move the scores they should ---------------------------------------------------------

# (signal, value, template, direction, quoted): the value moves the template's score against an empty
# context in that direction, and the reasoning quotes it.
SIGNAL_MOVES = [
    ("product_count", 2, "Low Product Alert", "up", "Your product count is 2"),
    ("product_count", 200, "Low Product Alert", "down", "Your product count is 200"),
    ("product_count", 1, "Starter Product Restock", "up", "Your product count is 1"),
    ("store_performance", "declining", "Store Health Watch", "up", "Your store performance is declining"),
    ("store_performance", "excellent", "Store Health Watch", "down", "Your store performance is excellent"),
    ("store_performance", "good", "VIP Customer Alert", "up", "Your store performance is good"),
    ("recent_campaigns", 0, "Weekly Campaign Generator", "up", "You've run 0 campaigns recently"),
    ("recent_campaigns", 12, "Weekly Campaign Generator", "down", "You've already run 12 campaigns"),
    ("recent_campaigns", 1, "Campaign Underperformance Alert", "up", "You've run 1 campaign recently"),
    ("seasonal_context", "holiday_season", "Holiday Season Campaign", "up", "It's the holiday season"),
    ("seasonal_context", "summer", "Holiday Season Campaign", "down", "It's summer"),
    ("seasonal_context", "black_friday", "Black Friday Landing Page", "up", "It's Black Friday"),
    ("conversion_rate", 0.5, "Conversion Rate Drop Alert", "up", "Your conversion rate is 0.5%"),
    ("conversion_rate", 8, "Conversion Rate Drop Alert", "down", "Your conversion rate is 8%"),
    ("conversion_rate", 1.2, "Browse Abandonment Follow-Up", "up", "Your conversion rate is 1.2%"),
    ("abandoned_carts", 25, "Abandoned Cart Recovery", "up", "You had 25 abandoned carts"),
    ("abandoned_carts", 0, "Abandoned Cart Recovery", "down", "You had 0 abandoned carts"),
    ("customer_count", 500, "Win Back Dormant Customers", "up", "You have 500 customers"),
    ("customer_count", 5, "Win Back Dormant Customers", "down", "You have 5 customers"),
    ("customer_count", 1, "VIP Customer Alert", "down", "You have 1 customer,"),
    ("days_since_last_campaign", 45, "Weekly Campaign Generator", "up", "Your last campaign was 45 days ago"),
    ("days_since_last_campaign", 2, "Weekly Campaign Generator", "down", "Your last campaign was only 2 days ago"),
    ("has_email_list", True, "Monthly Newsletter Draft", "up", "You have an email list"),
    ("has_email_list", False, "Monthly Newsletter Draft", "down", "You have no email list yet"),
    ("store_traffic", 50, "Traffic Drop Alert", "up", "Your store traffic is 50 visitors a day"),
    ("store_traffic", 10000, "Traffic Drop Alert", "down", "Your store traffic is 10,000 visitors a day"),
]


@pytest.mark.parametrize(("signal", "value", "template", "direction", "quoted"), SIGNAL_MOVES)
def test_each_signal_moves_its_templates_and_is_quoted(signal, value, template, direction, quoted):
    # given
    baseline = scores({})[template]

    # when
    rec = by_name({signal: value})[template]

    # then
    if direction == "up":
        assert rec.relevance_score > baseline
    else:
        assert rec.relevance_score < baseline
    assert quoted in rec.reasoning


def test_every_signal_has_an_up_and_a_down_case():
    directions = {(signal, direction) for signal, _, _, direction, _ in SIGNAL_MOVES}
    for signal in set(Signals.__dataclass_fields__) - {"season_day", "season_timezone"}:  # where a season came from
        assert (signal, "up") in directions and (signal, "down") in directions, signal


@pytest.mark.parametrize(("signal", "value"), [(signal, value) for signal, value, *_ in SIGNAL_MOVES])
def test_a_signal_only_moves_templates_whose_reasoning_mentions_it(signal, value):
    baseline = by_name({})  # today's season (autumn) already speaks for the seasonal templates
    for name, rec in by_name({signal: value}).items():
        if rec.relevance_score != baseline[name].relevance_score:
            [new] = [c for c in rec.contributions if c not in baseline[name].contributions]
            assert new.reason in rec.reasoning


def test_stronger_signals_score_higher():
    assert scores({"product_count": 1})["Low Product Alert"] > scores({"product_count": 6})["Low Product Alert"]
    assert (
        scores({"abandoned_carts": 40})["Abandoned Cart Recovery"]
        > scores({"abandoned_carts": 3})["Abandoned Cart Recovery"]
    )
    assert (
        scores({"seasonal_context": "holiday_season"})["Holiday Product Drop"]
        > scores({"seasonal_context": "winter"})["Holiday Product Drop"]
    )


@pytest.mark.parametrize(
    "context",
    [
        {"product_count": "2"},
        {"product_count": -1},
        {"product_count": True},
        {"product_count": math.nan},
        {"product_count": math.inf},
        {"store_performance": 5},
        {"store_performance": "stellar"},
        {"recent_campaigns": [0]},
        {"seasonal_context": "ramadan"},
        {"seasonal_context": {"season": "summer"}},
        {"conversion_rate": 250},
        {"conversion_rate": "1.2"},
        {"abandoned_carts": None},
        {"customer_count": "many"},
        {"days_since_last_campaign": "45"},
        {"has_email_list": "yes"},
        {"has_email_list": 1},
        {"store_traffic": -20},
        {"unknown_signal": 3, "tenant_id": "tenant_123"},
    ],
)
def test_unusable_signal_values_are_ignored(context):
    assert scores(context) == scores({})


def test_signal_words_are_read_leniently():
    assert Signals.from_context({"store_performance": " Good "}).store_performance == "good"
    assert Signals.from_context({"store_performance": "fair"}).store_performance == "average"
    assert Signals.from_context({"seasonal_context": "Holiday Season"}).seasonal_context == "holiday_season"
    assert Signals.from_context({"seasonal_context": "christmas"}).seasonal_context == "holiday_season"
    assert Signals.from_context({"seasonal_context": "Black-Friday"}).seasonal_context == "black_friday"
    assert Signals.from_context({"product_count": 2.0}).product_count == 2.0


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=5,
)
SIGNAL_NAMES = st.sampled_from([*Signals.__dataclass_fields__, "other"])


@settings(max_examples=200, deadline=None)
@given(context=st.dictionaries(SIGNAL_NAMES, JSON_VALUES | st.integers(0, 500) | st.sampled_from(["good", "summer"])))
def test_any_context_gives_bounded_sorted_scores(context):
    results = recommend(None, context, today=OCTOBER)
    assert len(results) == len(CATALOGUE)
    assert all(0.05 <= rec.relevance_score <= 0.99 for rec in results)
    assert [(-rec.relevance_score, rec.name) for rec in results] == sorted(
        (-rec.relevance_score, rec.name) for rec in results
    )
    assert all(rec.reasoning and "{" not in rec.reasoning and "None" not in rec.reasoning for rec in results)


# --- order, limits and copies --------------------------------------------------------------------


def test_results_are_deterministic_and_ties_are_broken_by_name():
    first = [rec.as_dict() for rec in recommend(None, SPEC_CONTEXT, today=OCTOBER)]
    second = [rec.as_dict() for rec in recommend(None, dict(reversed(list(SPEC_CONTEXT.items()))))]
    assert first == second
    tied = [rec.name for rec in recommend(None, {}, today=OCTOBER) if rec.relevance_score == 0.25]
    assert len(tied) >= 2 and tied == sorted(tied)


def test_limit_keeps_the_best():
    assert [rec.name for rec in recommend(None, SPEC_CONTEXT, limit=3, today=OCTOBER)] == [
        rec.name for rec in recommend(None, SPEC_CONTEXT, today=OCTOBER)[:3]
    ]
    assert recommend(None, SPEC_CONTEXT, limit=0, today=OCTOBER) == []


def test_suggested_config_is_a_copy():
    rec = recommend(None, {}, today=OCTOBER)[0]
    rec.suggested_config["trigger_config"]["value"] = 999
    rec.as_dict()["suggested_config"]["name"] = "changed"
    assert recommend(None, {}, today=OCTOBER)[0].suggested_config == next(
        template.suggested_config for template in CATALOGUE if template.name == rec.name
    )
    assert all(template.suggested_config["name"] == template.name for template in CATALOGUE)


def test_recommendation_summary_is_the_rule_in_words():
    rec = by_name({})["Weekly Campaign Generator"]
    assert rec.summary == "Every Monday at 09:00, generate a campaign from the weekly promo template for email."


# --- templates the tenant already runs -----------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger_type", "trigger_config", "action_type", "shape"),
    [
        ("event", {"event_type": "product_added", "source": "x"}, "start_workflow", ("event", "product_added")),
        ("schedule", {"pattern": "weekly", "day": "friday"}, "add_product", ("schedule", "weekly")),
        ("schedule", {"pattern": "seasonal", "season": "summer"}, "add_product", ("schedule", "seasonal", "summer")),
        ("schedule", {"pattern": "seasonal", "month": 12, "day": 24}, "add_product", ("schedule", "seasonal", "12-24")),
        (
            "threshold",
            {"metric": "product_count", "operator": "<="},
            "add_product",
            ("threshold", "product_count", "below"),
        ),
        (
            "threshold",
            {"metric": "product_count", "operator": ">"},
            "add_product",
            ("threshold", "product_count", "above"),
        ),
        ("behavior", {"behavior_type": "abandoned_cart"}, "add_product", ("behavior", "abandoned_cart")),
    ],
)
def test_rule_shape(trigger_type, trigger_config, action_type, shape):
    assert rule_shape(trigger_type, trigger_config, action_type) == (*shape, action_type)


@pytest.mark.parametrize(("trigger_type", "trigger_config", "action_type"), [("event", "oops", "x"), (None, {}, "x")])
def test_rule_shape_of_an_unreadable_rule_is_none(trigger_type, trigger_config, action_type):
    assert rule_shape(trigger_type, trigger_config, action_type) is None


@pytest.mark.django_db
def test_templates_the_tenant_already_runs_are_left_out(tenant, owner):
    # given the tenant runs a low product alert (threshold product_count below, send_notification)
    make_rule(
        tenant,
        owner,
        name="My own stock alert",
        trigger_config={"metric": "product_count", "operator": "<=", "value": 1},
    )

    # when
    names = [rec.name for rec in recommend(tenant, SPEC_CONTEXT)]

    # then the same automation is not suggested again, but one with another action is
    assert "Low Product Alert" not in names
    assert "Starter Product Restock" in names
    assert len(names) == len(CATALOGUE) - 1


@pytest.mark.django_db
def test_disabled_rules_count_as_running_but_archived_ones_do_not(tenant, owner):
    weekly = make_rule(
        tenant,
        owner,
        trigger_type="schedule",
        trigger_config={"pattern": "weekly", "day": "tuesday", "time": "10:00"},
        conditions=[],
        action_type="generate_campaign",
        action_config={"template_id": "my_promo"},
    )
    rule_set_enabled(weekly, False)
    assert "Weekly Campaign Generator" not in [rec.name for rec in recommend(tenant, {})]

    rule_archive(weekly)
    assert "Weekly Campaign Generator" in [rec.name for rec in recommend(tenant, {})]


@pytest.mark.django_db
def test_other_tenants_rules_and_other_directions_do_not_leave_templates_out(tenant, owner, other_tenant, other_owner):
    make_rule(other_tenant, other_owner)  # the other tenant runs a low product alert
    make_rule(tenant, owner, trigger_config={"metric": "product_count", "operator": ">", "value": 100})

    assert "Low Product Alert" in [rec.name for rec in recommend(tenant, SPEC_CONTEXT)]


@pytest.mark.django_db
def test_recommend_for_a_tenant_with_no_rules_reads_once(tenant, django_assert_num_queries, monkeypatch):
    from automations.page_facts import PageFacts, page_facts

    # scoring reads the tenant's rules once; each template's backtest evidence reads a few rows more
    monkeypatch.setattr(page_facts, "backtest_estimates", PageFacts().backtest_estimates)
    with django_assert_num_queries(1):
        results = recommend(tenant, SPEC_CONTEXT)
    assert results[0].name == "Low Product Alert"


def test_each_recommendation_carries_its_backtest_and_the_ranking_uses_it(tenant):
    from executions.models import Event

    for index in range(12):
        Event.objects.create(tenant=tenant, event_type="product_added", idempotency_key=f"p{index}", source="store")
    by_key = {item.key: item for item in recommend(tenant, {})}
    fired = [item for item in by_key.values() if item.backtest and item.backtest["would_fire"]]
    quiet = [item for item in by_key.values() if item.backtest and not item.backtest["triggers_seen"]]
    assert fired and quiet
    assert all("would have fired" in item.reasoning for item in fired)
    assert all("Nothing in your last 30 days would have triggered it." in item.reasoning for item in quiet)
    without = {item.key: item for item in recommend(None, {})}  # no tenant: no history, no evidence
    assert all(item.backtest is None for item in without.values())
    for item in fired:
        assert item.relevance_score >= without[item.key].relevance_score
    for item in quiet:
        assert item.relevance_score <= without[item.key].relevance_score


def test_behaviour_templates_carry_their_backtest_too(tenant, monkeypatch):
    from django.utils import timezone

    from executions import backtest
    from executions.models import Event

    day_ago = timezone.now() - dt.timedelta(hours=30)
    for customer in ("c1", "c2", "c3"):
        Event.objects.create(
            tenant=tenant,
            event_type="cart_updated",
            customer_id=customer,
            idempotency_key=f"{customer}-cart",
            occurred_at=day_ago,
            received_at=day_ago,
        )
    by_key = {item.key: item for item in recommend(tenant, {})}
    assert by_key["abandoned_cart_recovery"].backtest == {"days": 30, "would_fire": 3, "triggers_seen": 3}
    assert "would have fired 3 times" in by_key["abandoned_cart_recovery"].reasoning
    # a replay that runs out of its time budget gives no estimate rather than a low one
    monkeypatch.setattr(backtest, "ESTIMATE_BEHAVIOR_SECONDS", -1)
    assert {item.key: item for item in recommend(tenant, {})}["abandoned_cart_recovery"].backtest is None


def test_the_docs_name_every_template():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "recommendations.md").read_text()
    for template in CATALOGUE:
        assert f"| {template.name} |" in docs, template.name
