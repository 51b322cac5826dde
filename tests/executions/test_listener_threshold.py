"""Pushed samples, the threshold tick and pull providers on the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from automations.services import rule_update
from executions.choices import TriggerSource
from executions.dispatch import publish_soon
from executions.listeners.metrics import _queue_check as queue_check
from executions.listeners.metrics import record_metric_samples
from executions.listeners.threshold import check_metric_thresholds, check_thresholds
from executions.models import AutomationExecution, MetricSample, ThresholdState
from tests.api import post_json, token_client
from tests.executions.workers import race
from tests.factories import make_rule

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TRAFFIC: dict[str, object] = {}


def traffic_provider(tenant):
    return TRAFFIC.get(tenant.pk)


def broken_provider(tenant):
    raise ConnectionError("analytics down")


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def low_products(tenant, owner, **config):
    trigger = {"metric": "product_count", "operator": "<", "value": 3, **config}
    return make_rule(tenant, owner, trigger_config=trigger)


def push(tenant, value, minutes, metric="product_count"):
    """Store a sample at T0 + minutes and run the push check as the queued task would."""
    record_metric_samples({"tenant_id": tenant.pk, "metric": metric, "value": value}, now=at(minutes), check=False)
    return check_metric_thresholds(tenant.pk, metric, now=at(minutes))


def fired(rule) -> list[AutomationExecution]:
    return list(AutomationExecution.objects.filter(automation_rule=rule).order_by("id"))


# --- record_metric_samples ---------------------------------------------------------------------


@pytest.mark.django_db
def test_record_one_sample_and_a_list(tenant, other_tenant):
    [one] = record_metric_samples({"tenant_id": tenant.pk, "metric": "product_count", "value": 2}, check=False)
    assert (one.tenant_id, one.metric, one.value) == (tenant.pk, "product_count", 2)
    rows = record_metric_samples(
        [
            {"tenant_id": tenant.pk, "metric": "conversion_rate", "value": 2.5},
            {"tenant_id": other_tenant.pk, "metric": "store_status", "value": "active"},
        ],
        check=False,
    )
    assert [row.value for row in rows] == [2.5, "active"]
    assert MetricSample.objects.count() == 3


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"metric": "product_count", "value": 1}, {"tenant_id"}),
        ({"tenant_id": "tenant_test", "metric": "bad metric", "value": 1}, {"metric"}),
        ({"tenant_id": "tenant_test", "metric": "product_count", "value": True}, {"value"}),
        ({"tenant_id": "tenant_test", "metric": "product_count", "value": None}, {"value"}),
        ({"tenant_id": "tenant_test", "metric": "product_count", "value": [1]}, {"value"}),
        ({"tenant_id": "tenant_test", "metric": "product_count", "value": float("inf")}, {"value"}),
        ({"tenant_id": "tenant_test", "metric": "product_count", "value": "x" * 256}, {"value"}),
        ({"tenant_id": "tenant_test", "metric": "product_count", "value": 1, "at": 0}, {"at"}),
        ({"tenant_id": "nobody", "metric": "product_count", "value": 1}, {"tenant_id"}),
        ("product_count=1", {"samples"}),
    ],
)
@pytest.mark.django_db
def test_bad_samples_name_the_field(tenant, payload, errors):
    with pytest.raises(ValidationError) as caught:
        record_metric_samples(payload, check=False)
    assert set(caught.value.message_dict) == errors
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_item_in_a_list_stores_nothing(tenant):
    good = {"tenant_id": tenant.pk, "metric": "product_count", "value": 1}
    with pytest.raises(ValidationError) as caught:
        record_metric_samples([good, {**good, "value": "x" * 300}], check=False)
    assert set(caught.value.message_dict) == {"samples[1].value"}
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_a_pushed_sample_is_checked_right_after_commit(
    tenant, owner, pipeline_trigger_rule, eager_celery, django_capture_on_commit_callbacks
):
    rule = low_products(tenant, owner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record_metric_samples({"tenant_id": tenant.pk, "metric": "product_count", "value": 2})
    # the threshold check, then the fired execution's run (the rest count metrics)
    queued = [cb.func.__name__ for cb in callbacks if getattr(cb, "func", None) in (queue_check, publish_soon)]
    assert queued == ["_queue_check", "publish_soon"]
    [execution] = fired(rule)
    assert execution.trigger_source == TriggerSource.THRESHOLD
    data = execution.trigger_data
    assert (data["metric"], data["operator"], data["threshold"]) == ("product_count", "<", 3)
    assert (data["previous_value"], data["current_value"]) == (None, 2)
    assert execution.occurrence_key.startswith("threshold:")


@pytest.mark.django_db
def test_a_fired_run_checks_the_threshold_against_the_crossings_value(tenant, owner, pipeline_trigger_rule):
    """The run records the threshold comparison first (as Test Conditions shows it), with the value that
    crossed, even when a later sample no longer meets it."""
    from executions.pipeline import run_execution

    rule = low_products(tenant, owner)
    push(tenant, "active", 0, metric="store_status")
    push(tenant, 2, 1)
    push(tenant, 9, 2)  # back above: no firing, and the run must not read this value
    [execution] = fired(rule)
    assert execution.trigger_data["product_count"] == 2
    execution = run_execution(execution.pk)
    assert execution.status == "succeeded"
    threshold, condition = execution.condition_results
    assert threshold["condition"] == {"type": "product_count", "operator": "<", "value": 3}
    assert (threshold["passed"], threshold["actual_value"], threshold["expected_value"]) == (True, 2, 3)
    assert condition["condition"] == {"type": "store_status", "operator": "=", "value": "active"}
    assert condition["passed"] is True


# --- crossings through pushes and ticks ----------------------------------------------------------


@pytest.mark.django_db
def test_one_firing_per_upward_crossing(tenant, owner, pipeline_trigger_rule):
    rule = low_products(tenant, owner)
    for minute, value in enumerate([5, 4, 2, 1, 2, 6, 2, 2]):
        push(tenant, value, minute)
        check_thresholds(now=at(minute + 0.5))  # ticks in between change nothing
    executions = fired(rule)
    assert [(e.trigger_data["previous_value"], e.trigger_data["current_value"]) for e in executions] == [(4, 2), (6, 2)]
    assert len({e.occurrence_key for e in executions}) == 2


@pytest.mark.django_db
def test_a_quick_dip_between_two_checks_still_fires_once(tenant, owner, pipeline_trigger_rule):
    rule = low_products(tenant, owner)
    push(tenant, 5, 0)
    for minute, value in ((1, 2), (2, 5)):  # stored without a check in between
        record_metric_samples(
            {"tenant_id": tenant.pk, "metric": "product_count", "value": value}, now=at(minute), check=False
        )
    check_metric_thresholds(tenant.pk, "product_count", now=at(2))
    check_metric_thresholds(tenant.pk, "product_count", now=at(3))
    assert len(fired(rule)) == 1
    assert ThresholdState.objects.get(rule=rule).condition_met is False


@pytest.mark.django_db
def test_for_minutes_holds_first_and_survives_restarts(tenant, owner, pipeline_trigger_rule):
    rule = low_products(tenant, owner, for_minutes=10)
    push(tenant, 5, 0)
    push(tenant, 2, 1)
    assert check_thresholds(now=at(6)).fired == 0
    state = ThresholdState.objects.get(rule=rule)
    assert (state.condition_met, state.fired_at, state.met_since) == (True, None, at(1))
    # a "restart": nothing in memory; the next tick reads the stored state
    assert check_thresholds(now=at(11)).fired == 1
    assert check_thresholds(now=at(16)).fired == 0
    assert check_thresholds(now=at(16)).fired == 0  # a doubled tick
    [execution] = fired(rule)
    assert execution.trigger_data["met_since"] == "2026-03-02T09:01:00Z"


@pytest.mark.django_db
def test_for_minutes_interrupted_does_not_fire(tenant, owner, pipeline_trigger_rule):
    rule = low_products(tenant, owner, for_minutes=10)
    push(tenant, 2, 0)
    push(tenant, 5, 5)
    check_thresholds(now=at(12))
    assert fired(rule) == []


@pytest.mark.django_db
def test_a_text_sample_is_not_comparable_and_changes_nothing(tenant, owner, pipeline_trigger_rule):
    rule = low_products(tenant, owner)
    push(tenant, 5, 0)
    push(tenant, "closed", 1)
    check_thresholds(now=at(2))
    assert fired(rule) == []
    assert ThresholdState.objects.get(rule=rule).condition_met is False


@pytest.mark.django_db
def test_editing_the_threshold_starts_afresh(tenant, owner, pipeline_trigger_rule):
    rule = low_products(tenant, owner)
    push(tenant, 2, 0)
    assert len(fired(rule)) == 1
    rule_update(rule, {"trigger_config": {"metric": "product_count", "operator": "<", "value": 5}})
    check_thresholds(now=at(5))
    assert len(fired(rule)) == 2


@pytest.mark.django_db
def test_rules_of_other_tenants_and_metrics_are_not_touched(
    tenant, owner, other_tenant, other_owner, pipeline_trigger_rule
):
    mine = low_products(tenant, owner)
    theirs = low_products(other_tenant, other_owner)
    push(tenant, 1, 0)
    assert len(fired(mine)) == 1 and fired(theirs) == []
    push(tenant, 1, 1, metric="store_traffic")
    assert len(fired(mine)) == 1


@pytest.mark.django_db
def test_disabled_rules_are_not_checked(tenant, owner, pipeline_trigger_rule):
    rule = low_products(tenant, owner, for_minutes=0)
    rule_update(rule, {"enabled": False})
    push(tenant, 1, 0)
    assert check_thresholds(now=at(1)).rules == 0
    assert fired(rule) == []


# --- pull providers -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_pull_provider_crossings(tenant, owner, settings, pipeline_trigger_rule):
    settings.AUTOMATIONS = {
        **settings.AUTOMATIONS,
        "METRIC_PROVIDERS": {"store_traffic": f"{__name__}.traffic_provider"},
    }
    rule = make_rule(tenant, owner, trigger_config={"metric": "store_traffic", "operator": ">", "value": 100})
    results = []
    for minute, value in enumerate([50, 150, 200, 80, 120, None, 130]):
        TRAFFIC[tenant.pk] = value
        results.append(check_thresholds(now=at(5 * minute)))
    executions = fired(rule)
    assert [e.trigger_data["current_value"] for e in executions] == [150, 120]
    assert [e.trigger_data["previous_value"] for e in executions] == [50, 80]
    assert results[5].unavailable == 1  # the provider had no value: the state stays
    TRAFFIC.clear()


@pytest.mark.django_db
def test_a_failing_provider_skips_its_rules_only(tenant, owner, settings, pipeline_trigger_rule):
    settings.AUTOMATIONS = {
        **settings.AUTOMATIONS,
        "METRIC_PROVIDERS": {"store_traffic": f"{__name__}.broken_provider"},
    }
    broken = make_rule(tenant, owner, trigger_config={"metric": "store_traffic", "operator": ">", "value": 1})
    fine = low_products(tenant, owner)
    record_metric_samples({"tenant_id": tenant.pk, "metric": "product_count", "value": 1}, now=at(0), check=False)
    result = check_thresholds(now=at(1))
    assert (result.rules, result.unavailable, result.fired) == (2, 1, 1)
    assert fired(broken) == [] and len(fired(fine)) == 1


@pytest.mark.django_db
def test_a_steady_tick_writes_nothing(tenant, owner, pipeline_trigger_rule, django_assert_max_num_queries):
    for _ in range(5):
        low_products(tenant, owner)
    push(tenant, 7, 0)
    check_thresholds(now=at(1))
    with django_assert_max_num_queries(2):  # rules with state and latest sample ids, then the samples
        result = check_thresholds(now=at(2))
    assert (result.rules, result.changed, result.fired) == (5, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_parallel_ticks_fire_each_crossing_once(tenant, owner, pipeline_trigger_rule):
    rules = [low_products(tenant, owner) for _ in range(8)]
    record_metric_samples({"tenant_id": tenant.pk, "metric": "product_count", "value": 1}, now=at(0), check=False)

    def tick_and_check_pushed() -> None:
        check_thresholds(now=at(1))
        check_metric_thresholds(tenant.pk, "product_count", now=at(1))

    assert race(*[tick_and_check_pushed] * 4) == [None] * 4
    assert AutomationExecution.objects.filter(automation_rule__in=rules).count() == 8


@pytest.mark.django_db
def test_a_failing_trigger_keeps_the_state_and_the_next_check_fires(tenant, owner, monkeypatch, pipeline_trigger_rule):
    import executions.pipeline

    rule = low_products(tenant, owner)
    push(tenant, 5, 0)

    def broken(*args, **kwargs):
        raise RuntimeError("pipeline down")

    # the pipeline fails for the batch of firings and for the one-by-one retry
    batch_trigger = executions.pipeline.trigger_rules
    monkeypatch.setattr(executions.pipeline, "trigger_rules", broken)
    monkeypatch.setattr(executions.pipeline, "trigger_rule", broken)
    assert push(tenant, 2, 1).errors == 1
    assert ThresholdState.objects.get(rule=rule).condition_met is False
    monkeypatch.setattr(executions.pipeline, "trigger_rules", batch_trigger)
    monkeypatch.setattr(executions.pipeline, "trigger_rule", pipeline_trigger_rule)
    assert check_thresholds(now=at(5)).fired == 1
    [execution] = fired(rule)
    assert execution.trigger_data["previous_value"] == 5


# --- one comparison: the tick and Test Conditions answer alike ---------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("value", [2, 3, 50, "2", " 2.5 ", "open", 2.999])
def test_test_conditions_says_what_the_tick_does(tenant, owner, value):
    """Test Conditions (API) passes the trigger's comparison exactly when the tick would fire on that value."""
    rule = low_products(tenant, owner)
    answer = post_json(
        token_client(owner), f"/api/automations/{rule.pk}/test-conditions", {"context": {"product_count": value}}
    )
    record_metric_samples({"tenant_id": tenant.pk, "metric": "product_count", "value": value}, now=at(0), check=False)
    check_metric_thresholds(tenant.pk, "product_count", now=at(0))

    first = answer.data["results"][0]
    assert first["condition"] == {"type": "product_count", "operator": "<", "value": 3}
    assert first["passed"] is bool(fired(rule))
