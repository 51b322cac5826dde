"""The context a rule's conditions see: built-ins < tenant facts < trigger data < manual context."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from executions.context import builtin_facts
from executions.models import MetricSample
from executions.services import build_context
from governance.models import Tenant
from tests.overrides import override_automations


def store_status_provider(tenant):
    return "open" if tenant.pk == "tenant_test" else None


def broken_provider(tenant):
    raise RuntimeError("the stats service is down")


def visitors_provider(tenant):
    return dt.date(2026, 12, 1)  # not JSON: stored as its ISO string


@pytest.mark.django_db
def test_later_layers_win(rule):
    tenant = rule.tenant
    MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=2)
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    MetricSample.objects.create(tenant=tenant, metric="campaigns", value_number=1)

    context = build_context(
        rule, {"product_count": 7, "campaigns": 4, "date": "2000-01-01"}, {"campaigns": 9, "source": "manual"}
    )

    assert context["store_status"] == "active"  # a fact nobody overrode
    assert context["product_count"] == 7  # the trigger's value beats the fact
    assert context["campaigns"] == 9  # the caller's beats the trigger's
    assert context["date"] == "2000-01-01"  # the trigger's beats the built-in
    assert context["tenant_id"] == tenant.pk


@pytest.mark.django_db
def test_the_latest_sample_of_each_metric_is_the_fact(rule):
    tenant = rule.tenant
    now = timezone.now()
    MetricSample.objects.create(
        tenant=tenant, metric="product_count", value_number=9, recorded_at=now - dt.timedelta(hours=2)
    )
    MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=2.5, recorded_at=now)
    MetricSample.objects.create(
        tenant=tenant, metric="product_count", value_number=4, recorded_at=now - dt.timedelta(hours=1)
    )
    other = Tenant.objects.create(id="tenant_x", name="X")
    MetricSample.objects.create(
        tenant=other, metric="product_count", value_number=100, recorded_at=now + dt.timedelta(hours=1)
    )

    assert build_context(rule, {})["product_count"] == 2.5


@pytest.mark.django_db
def test_samples_recorded_at_the_same_moment_the_last_stored_wins_for_each_metric(rule):
    from executions.selectors import tenant_latest_metric_values

    tenant = rule.tenant
    now = timezone.now()
    for value in (3, 8, 5):  # three samples of one moment: the highest id is the last stored
        MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=value, recorded_at=now)
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="paused", recorded_at=now)
    MetricSample.objects.create(
        tenant=tenant, metric="store_status", value_text="active", recorded_at=now - dt.timedelta(minutes=1)
    )

    assert tenant_latest_metric_values(tenant.pk) == {"product_count": 5, "store_status": "paused"}
    assert tenant_latest_metric_values("tenant_without_samples") == {}


@pytest.mark.django_db
@override_automations(
    METRIC_PROVIDERS={
        "store_status": "tests.executions.test_context.store_status_provider",
        "traffic": "tests.executions.test_context.broken_provider",
        "launch_date": "tests.executions.test_context.visitors_provider",
    }
)
def test_registered_providers_add_facts_and_a_broken_one_is_skipped(rule):
    MetricSample.objects.create(tenant=rule.tenant, metric="store_status", value_text="paused")

    context = build_context(rule, {})

    assert context["store_status"] == "open"  # a live provider beats a stored sample
    assert "traffic" not in context
    assert context["launch_date"] == "2026-12-01"


@pytest.mark.django_db
def test_built_ins_are_in_the_tenants_time_zone(tenant):
    tenant.timezone = "Pacific/Auckland"
    moment = dt.datetime(2026, 11, 30, 20, 30, tzinfo=dt.UTC)  # Tuesday 09:30 on 1 December in Auckland

    facts = builtin_facts(tenant, moment)

    assert (facts["date"], facts["time"], facts["weekday"]) == ("2026-12-01", "09:30", "tuesday")
    assert facts["now"] == "2026-11-30T20:30:00+00:00"
