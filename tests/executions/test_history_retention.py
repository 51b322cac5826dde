"""History retention (executions/services/history.py): what ``prune_history`` deletes and what it keeps."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.checks import run_checks
from django.utils import timezone

from executions import services
from executions.models import BehaviorMatch, Event, MetricSample
from executions.services import history
from executions.tasks import prune_history_task
from tests.factories import make_execution, make_rule, make_tenant
from tests.overrides import override_automations

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)

DORMANT_120_DAYS = {
    "name": "Win back",
    "trigger_type": "behavior",
    "trigger_config": {"behavior_type": "dormant_customer", "timeframe_hours": 120 * 24},
    "conditions": [],
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"], "message": "Dormant"},
}


def event(tenant, days_ago: float, key: str, dispatched: bool = True, **fields) -> Event:
    at = NOW - dt.timedelta(days=days_ago)
    return Event.objects.create(
        tenant=tenant,
        event_type=fields.pop("event_type", "order_placed"),
        idempotency_key=key,
        occurred_at=at,
        received_at=at,
        dispatched_at=at if dispatched else None,
        **fields,
    )


def sample(tenant, metric: str, days_ago: float, value: float) -> MetricSample:
    return MetricSample.objects.create(
        tenant=tenant, metric=metric, value_number=value, recorded_at=NOW - dt.timedelta(days=days_ago)
    )


def remaining_events() -> set[str]:
    return set(Event.objects.values_list("idempotency_key", flat=True))


def test_old_matched_events_go_and_what_must_stay_stays():
    tenant = make_tenant("tenant_a")
    rule = make_rule(tenant)
    event(tenant, 91, "old")
    event(tenant, 89, "recent")
    event(tenant, 200, "old-undispatched", dispatched=False)
    started = event(tenant, 300, "old-with-execution")
    make_execution(rule, event=started)

    result = services.prune_history(now=NOW)

    assert remaining_events() == {"recent", "old-undispatched", "old-with-execution"}
    assert result.as_dict() == {"events_deleted": 1, "samples_deleted": 0, "complete": True}


def test_the_retention_is_a_setting():
    tenant = make_tenant("tenant_a")
    event(tenant, 20, "twenty-days")
    event(tenant, 5, "five-days")
    with override_automations(HISTORY_RETENTION_DAYS=10):
        services.prune_history(now=NOW)
        assert services.history_kept_since("tenant_a", now=NOW) == NOW - dt.timedelta(days=10)
    assert remaining_events() == {"five-days"}


def test_a_tenant_with_a_long_behaviour_rule_keeps_events_within_its_timeframe():
    # given tenant A with a "dormant for 120 days" rule and tenant B without one
    tenant_a, tenant_b = make_tenant("tenant_a"), make_tenant("tenant_b")
    make_rule(tenant_a, **DORMANT_120_DAYS)
    for tenant in (tenant_a, tenant_b):
        event(tenant, 100, f"{tenant.pk}-100d", customer_id="c1")
        event(tenant, 130, f"{tenant.pk}-130d", customer_id="c1")

    services.prune_history(now=NOW)

    # then A keeps what its rule reads (120 days and the one-day catch-up), B keeps 90 days
    assert remaining_events() == {"tenant_a-100d"}
    kept_since = services.history_kept_since("tenant_a", now=NOW)
    assert kept_since == NOW - dt.timedelta(days=121)
    assert services.history_kept_since("tenant_b", now=NOW) == NOW - dt.timedelta(days=90)


def test_a_disabled_behaviour_rule_does_not_hold_history():
    tenant = make_tenant("tenant_a")
    rule = make_rule(tenant, **DORMANT_120_DAYS)
    type(rule).objects.filter(pk=rule.pk).update(enabled=False)
    event(tenant, 100, "100d", customer_id="c1")
    services.prune_history(now=NOW)
    assert remaining_events() == set()


def test_a_behaviour_match_outlives_its_pruned_event():
    tenant = make_tenant("tenant_a")
    rule = make_rule(tenant, **DORMANT_120_DAYS)
    type(rule).objects.filter(pk=rule.pk).update(enabled=False)
    old = event(tenant, 200, "old-cart", customer_id="c1")
    match = BehaviorMatch.objects.create(rule=rule, customer_id="c1", occurrence=f"cart:{old.pk}", event=old)

    services.prune_history(now=NOW)

    match.refresh_from_db()
    assert match.event_id is None and match.occurrence == f"cart:{old.pk}"
    assert not Event.objects.filter(pk=old.pk).exists()


def test_each_metric_keeps_its_latest_sample_however_old():
    tenant, other = make_tenant("tenant_a"), make_tenant("tenant_b")
    sample(tenant, "product_count", 200, 5)
    sample(tenant, "product_count", 150, 4)  # the latest of tenant_a's product_count
    sample(tenant, "store_status_score", 120, 1)
    sample(tenant, "store_status_score", 10, 2)
    sample(other, "product_count", 100, 9)  # tenant_b's only sample: its latest

    result = services.prune_history(now=NOW)

    left = sorted(MetricSample.objects.values_list("tenant_id", "metric", "value_number"))
    assert left == [
        ("tenant_a", "product_count", 4.0),
        ("tenant_a", "store_status_score", 2.0),
        ("tenant_b", "product_count", 9.0),
    ]
    assert result.samples_deleted == 2


def test_samples_recorded_at_the_same_instant_keep_the_later_row():
    tenant = make_tenant("tenant_a")
    first = sample(tenant, "product_count", 100, 1)
    second = sample(tenant, "product_count", 100, 2)
    services.prune_history(now=NOW)
    assert list(MetricSample.objects.values_list("pk", flat=True)) == [second.pk]
    assert first.pk < second.pk


def test_pruning_works_in_bounded_batches_and_the_next_run_goes_on(monkeypatch):
    tenant = make_tenant("tenant_a")
    for index in range(5):
        event(tenant, 100 + index, f"old-{index}")
    monkeypatch.setattr(history, "MAX_BATCHES", 2)

    first = services.prune_history(now=NOW, batch_size=2)
    assert (first.events_deleted, first.complete) == (4, False)
    assert remaining_events() == {"old-0"}  # oldest first: the newest of the old ones is left

    second = services.prune_history(now=NOW, batch_size=2)
    assert (second.events_deleted, second.complete) == (1, True)
    assert remaining_events() == set()


def test_the_beat_task_prunes_with_the_current_time():
    tenant = make_tenant("tenant_a")
    Event.objects.create(
        tenant=tenant,
        event_type="order_placed",
        idempotency_key="ancient",
        occurred_at=timezone.now() - dt.timedelta(days=400),
        received_at=timezone.now() - dt.timedelta(days=400),
        dispatched_at=timezone.now() - dt.timedelta(days=400),
    )
    assert prune_history_task() == {"events_deleted": 1, "samples_deleted": 0, "complete": True}


@pytest.mark.parametrize("key", ["HISTORY_RETENTION_DAYS", "HISTORY_PRUNE_BATCH_SIZE"])
def test_a_retention_setting_below_one_is_refused_at_start_up(key):
    with override_automations(**{key: 0}):
        errors = [message for message in run_checks() if key in message.msg]
    assert errors and errors[0].level >= 40
