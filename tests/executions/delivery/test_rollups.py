"""The daily delivery roll-up (executions/delivery/rollups.py): a recount of raw deliveries and attempts per
endpoint and local day, idempotent, with latency buckets that give the p95."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from executions.delivery.models import LATENCY_BUCKET_FIELDS, DeliveryAttempt, DeliveryDailyRollup, WebhookDelivery
from executions.delivery.rollups import bucket_counts, delivery_rollups_fold, delivery_rollups_fold_due
from executions.delivery.rollups import latency_percentile as p
from executions.delivery.services.endpoints import endpoint_create
from tests.factories import make_execution, make_rule, make_tenant

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def deliver(endpoint, execution, status, completed_at, durations, outcome_of=None):
    """A delivery that ended ``status`` at ``completed_at`` with one finished attempt per duration."""
    delivery = WebhookDelivery.objects.create(
        tenant_id=endpoint.tenant_id,
        execution=execution,
        endpoint=endpoint,
        webhook_id=f"wh_{execution.pk}_{endpoint.pk}",
        status=status,
        next_attempt_at=None,
        completed_at=completed_at,
    )
    for number, duration in enumerate(durations, start=1):
        last = number == len(durations)
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempt_number=number,
            finished_at=completed_at,
            duration_ms=duration,
            status_code=200 if last and status == "succeeded" else 503,
            outcome=(outcome_of or {}).get(number) or ("succeeded" if last and status == "succeeded" else "retryable"),
        )
    # updated_at is auto_now: the row changed when it ended, as the sender's updates set it.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(updated_at=completed_at)
    return delivery


@pytest.fixture
def shop(db):
    tenant = make_tenant("tenant_berlin", name="Berlin shop", timezone="Europe/Berlin")
    rule = make_rule(tenant)
    endpoint = endpoint_create(tenant, "https://hooks.example.com/berlin").endpoint
    return tenant, rule, endpoint


def test_fold_counts_endings_and_attempts_per_local_day(shop):
    tenant, rule, endpoint = shop
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin: the local day counts.
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    noon = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    deliver(endpoint, make_execution(rule), "succeeded", noon, [40.0])
    deliver(endpoint, make_execution(rule), "succeeded", noon, [3000.0, 120.0])  # a retry, then 2xx
    deliver(endpoint, make_execution(rule), "failed", late, [700.0, 12000.0])
    open_one = WebhookDelivery.objects.create(
        tenant=tenant, execution=make_execution(rule), endpoint=endpoint, webhook_id="wh_open", status="retrying"
    )
    DeliveryAttempt.objects.create(delivery=open_one, attempt_number=1, outcome="in_flight")  # no latency yet

    written = delivery_rollups_fold(tenant.pk, dt.date(2026, 2, 28))

    assert written == 2
    first, second = DeliveryDailyRollup.objects.filter(endpoint=endpoint).order_by("day")
    assert (first.day, first.deliveries_succeeded, first.deliveries_failed) == (dt.date(2026, 3, 1), 2, 0)
    assert (first.attempts, first.attempts_failed, first.latency_ms_sum) == (3, 1, 3160.0)
    assert bucket_counts(first.__dict__) == [1, 0, 1, 0, 0, 0, 1, 0, 0]
    assert (second.day, second.deliveries_succeeded, second.deliveries_failed) == (dt.date(2026, 3, 2), 0, 1)
    assert bucket_counts(second.__dict__) == [0, 0, 0, 0, 1, 0, 0, 0, 1]


def test_folding_again_changes_nothing_and_a_later_fold_replaces_only_its_days(shop):
    tenant, rule, endpoint = shop
    day_one = dt.datetime(2026, 3, 1, 10, tzinfo=BERLIN)
    deliver(endpoint, make_execution(rule), "succeeded", day_one, [80.0])
    delivery_rollups_fold(tenant.pk, dt.date(2026, 3, 1))
    before = list(DeliveryDailyRollup.objects.values(*LATENCY_BUCKET_FIELDS, "deliveries_succeeded", "day"))
    delivery_rollups_fold(tenant.pk, dt.date(2026, 3, 1))
    assert list(DeliveryDailyRollup.objects.values(*LATENCY_BUCKET_FIELDS, "deliveries_succeeded", "day")) == before
    # a fold from 2 March on keeps 1 March's row as it was, even once its raw rows are gone (pruned)
    WebhookDelivery.objects.all().delete()
    deliver(endpoint, make_execution(rule), "failed", day_one + dt.timedelta(days=1), [30.0])
    delivery_rollups_fold(tenant.pk, dt.date(2026, 3, 2))
    days = dict(DeliveryDailyRollup.objects.values_list("day", "deliveries_failed"))
    assert days == {dt.date(2026, 3, 1): 0, dt.date(2026, 3, 2): 1}


def test_the_periodic_fold_backfills_then_refolds_from_the_day_before_the_newest(shop, other_tenant):
    tenant, rule, endpoint = shop
    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    deliver(endpoint, make_execution(rule), "succeeded", now - dt.timedelta(days=30), [10.0])
    assert delivery_rollups_fold_due(now) == {"tenants": 1, "rows": 1, "errors": 0}  # other_tenant: no endpoint
    deliver(endpoint, make_execution(rule), "succeeded", now - dt.timedelta(hours=1), [10.0])
    delivery_rollups_fold_due(now)
    assert DeliveryDailyRollup.objects.filter(tenant=tenant).count() == 2
    assert not DeliveryDailyRollup.objects.filter(tenant=other_tenant).exists()


def test_a_tenants_fold_never_reads_another_tenants_deliveries(shop, other_tenant):
    tenant = shop[0]
    theirs = endpoint_create(other_tenant, "https://hooks.example.com/other").endpoint
    other_rule = make_rule(other_tenant)
    deliver(theirs, make_execution(other_rule), "failed", timezone.now(), [10.0])
    delivery_rollups_fold(tenant.pk, timezone.now().date() - dt.timedelta(days=2))
    assert not DeliveryDailyRollup.objects.exists()


@pytest.mark.parametrize(
    ("buckets", "fraction", "expected"),
    [
        ([0] * 9, 0.95, None),
        ([100, 0, 0, 0, 0, 0, 0, 0, 0], 0.95, 47.5),  # inside 0-50 ms
        ([90, 10, 0, 0, 0, 0, 0, 0, 0], 0.95, 75.0),  # halfway into 50-100 ms
        ([94, 0, 0, 0, 0, 0, 0, 0, 6], 0.95, 10000.0),  # the open bucket: "at least 10 s"
        ([0, 0, 0, 1, 0, 0, 0, 0, 0], 0.5, 375.0),
    ],
)
def test_p95_is_interpolated_in_its_bucket(buckets, fraction, expected):
    assert p(buckets, fraction) == expected
