"""History retention (executions/services/history.py): what ``prune_history`` deletes and what it keeps."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.utils import timezone

from executions import services
from executions.models import (
    AutomationExecution,
    BehaviorMatch,
    DeliveryAttempt,
    Event,
    MetricSample,
    Notification,
    WebhookDelivery,
)
from executions.rollups import rollups_rebuild
from executions.selectors import rule_execution_overview, rule_execution_stats
from executions.services import history
from executions.tasks import prune_history_task
from governance.models import Tenant
from governance.services import membership_set, tenant_update
from tests.executions.rollup_checks import outcomes_projected, outcomes_stored, stored
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
    assert result.as_dict() == {
        "executions_deleted": 0,
        "notifications_deleted": 0,
        "events_deleted": 1,
        "samples_deleted": 0,
        "complete": True,
    }


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
    assert prune_history_task() == {
        "executions_deleted": 0,
        "notifications_deleted": 0,
        "events_deleted": 1,
        "samples_deleted": 0,
        "complete": True,
    }


@pytest.mark.parametrize("key", ["HISTORY_RETENTION_DAYS", "HISTORY_PRUNE_BATCH_SIZE"])
def test_a_retention_setting_below_one_is_refused_at_start_up(key):
    with override_automations(**{key: 0}):
        errors = [message for message in run_checks() if key in message.msg]
    assert errors and errors[0].level >= 40


# --- executions (docs/analytics.md, "Retention") ----------------------------------------------------


def old_execution(rule, days_ago: float, status: str = "succeeded", **fields) -> AutomationExecution:
    """An ended execution ``days_ago`` before NOW with a delivery, its attempt and a notice hanging off it."""
    execution = make_execution(rule, status, triggered_at=NOW - dt.timedelta(days=days_ago), **fields)
    delivery = WebhookDelivery.objects.create(
        tenant_id=rule.tenant_id, execution=execution, webhook_id=f"execution_{execution.pk}"
    )
    DeliveryAttempt.objects.create(delivery=delivery, attempt_number=1)
    user = get_user_model().objects.first()
    Notification.objects.create(
        tenant_id=rule.tenant_id, user=user, kind="execution_failed", title="t", execution=execution
    )
    return execution


def test_pruning_keeps_the_rules_totals_and_roll_ups(owner):
    # given: a rule whose runs are 120, 100 and 10 days old, one old run still awaiting approval
    tenant = make_tenant("tenant_a")
    rule = make_rule(tenant)
    for days_ago in (120, 100, 100):
        old_execution(rule, days_ago)
    old_execution(rule, 100, "failed", error_message="boom")
    old_execution(rule, 10)
    waiting = make_execution(rule, "awaiting_approval", triggered_at=NOW - dt.timedelta(days=150))
    caused = Event.objects.create(tenant=tenant, event_type="x", idempotency_key="caused")
    first = AutomationExecution.objects.order_by("pk").first()
    Event.objects.filter(pk=caused.pk).update(caused_by_execution_id=first.pk)  # an event the 120-day run caused
    stats_before = rule_execution_stats(rule, NOW)
    overview_before = rule_execution_overview(rule, NOW)
    rollups_before = stored()
    outcomes_before = outcomes_stored()
    assert outcomes_before == outcomes_projected()

    # when
    result = services.prune_history(now=NOW)

    # then: the raw rows past 90 days went, with their deliveries, attempts and notices; the open one stayed
    assert (result.executions_deleted, result.complete) == (4, True)
    left = list(AutomationExecution.objects.order_by("triggered_at").values_list("pk", "status"))
    assert len(left) == 2 and left[0] == (waiting.pk, "awaiting_approval")
    assert WebhookDelivery.objects.count() == DeliveryAttempt.objects.count() == 1
    assert Notification.objects.count() == 1
    assert Event.objects.get(pk=caused.pk).caused_by_execution_id is None
    # and the totals, the days and the roll-ups are as they were
    assert stored() == rollups_before
    assert outcomes_stored() == outcomes_before
    assert rule_execution_stats(rule, NOW) == stats_before
    assert rule_execution_overview(rule, NOW) == overview_before
    assert stats_before["total_executions"] == 5 and stats_before["failure_count"] == 1
    # and a rebuild from what is left changes nothing (the pruned days are not rebuilt)
    tenant.refresh_from_db()
    assert tenant.executions_pruned_before == NOW - dt.timedelta(days=90)
    assert rollups_rebuild([tenant.pk]).keys_corrected == 0
    assert stored() == rollups_before
    assert outcomes_stored() == outcomes_before


def test_each_tenant_keeps_executions_for_its_own_period(owner, other_owner):
    short, long = make_tenant("tenant_short"), make_tenant("tenant_long")
    Tenant.objects.filter(pk=short.pk).update(execution_retention_days=7)
    Tenant.objects.filter(pk=long.pk).update(execution_retention_days=365)
    for tenant in (short, long):
        rule = make_rule(tenant)
        old_execution(rule, 30)
        old_execution(rule, 3)

    services.prune_history(now=NOW)

    assert sorted(AutomationExecution.objects.values_list("tenant_id", flat=True)) == [
        "tenant_long",
        "tenant_long",
        "tenant_short",
    ]


def test_execution_pruning_works_in_bounded_batches_and_the_next_run_goes_on(owner, monkeypatch):
    rule = make_rule(make_tenant("tenant_a"))
    for index in range(5):
        old_execution(rule, 100 + index)
    monkeypatch.setattr(history, "MAX_BATCHES", 2)

    first = services.prune_history(now=NOW, batch_size=2)
    assert (first.executions_deleted, first.complete) == (4, False)
    second = services.prune_history(now=NOW, batch_size=2)
    assert (second.executions_deleted, second.complete) == (1, True)
    assert not AutomationExecution.objects.exists()


def test_the_retention_is_a_tenant_setting_an_owner_changes(owner):
    tenant = make_tenant("tenant_a")
    assert tenant.execution_retention_days == 90
    membership_set(tenant, owner, "owner")
    assert tenant_update(tenant, {"execution_retention_days": 30}, owner).execution_retention_days == 30
    with pytest.raises(ValidationError) as refused:
        tenant_update(tenant, {"execution_retention_days": 0}, owner)
    assert "execution_retention_days" in refused.value.message_dict
