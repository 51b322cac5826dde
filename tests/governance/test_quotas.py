"""The quota counter (governance/quotas.py) on both backends: the database (the embedded default) and Redis
(when the throttle's cache is Redis); windows and their rollover; the tenant's quota settings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from governance import quotas
from governance.models import QuotaCounter, Tenant
from governance.quotas import (
    EXECUTIONS_WINDOW_SECONDS,
    QuotaExceeded,
    Window,
    counter_backend,
    counter_release,
    counter_reserve,
    counter_values,
    counters_prune,
    events_quota_reserve,
    execution_quota_hold,
    quota_use,
)
from governance.services import tenant_update
from tests.executions.workers import race
from tests.factories import tenant_admin_form
from tests.services import require_redis

T0 = dt.datetime(2026, 12, 7, 10, 0, 30, tzinfo=dt.UTC)  # half a minute into the 10:00 minute


def use_redis(settings) -> None:
    """Point the throttle's cache (where the quota counters live) at the test Redis; remove our keys."""
    url = require_redis()
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url},
    }
    forget_redis_counts()


def forget_redis_counts() -> None:
    client = quotas.redis_client(quotas.CACHE_ALIAS)
    if client is not None:
        keys = list(client.scan_iter(f"{quotas.REDIS_PREFIX}:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    if request.param == "redis":
        use_redis(settings)
    assert counter_backend() == request.param
    yield request.param
    if request.param == "redis":
        forget_redis_counts()


# --- windows -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "seconds", "start", "left"),
    [
        ("2026-12-07T10:00:30+00:00", 60, "2026-12-07T10:00:00+00:00", 30),
        ("2026-12-07T10:00:59.900+00:00", 60, "2026-12-07T10:00:00+00:00", 1),
        ("2026-12-07T10:01:00+00:00", 60, "2026-12-07T10:01:00+00:00", 60),
        ("2026-12-07T10:59:59+00:00", 3600, "2026-12-07T10:00:00+00:00", 1),
        ("2026-12-07T11:30:00+01:00", 3600, "2026-12-07T10:00:00+00:00", 1800),  # another zone: the UTC hour
    ],
)
def test_windows_are_aligned_to_the_utc_clock(moment, seconds, start, left):
    now = dt.datetime.fromisoformat(moment)
    window = Window.at(now, seconds)
    assert window.start == dt.datetime.fromisoformat(start)
    assert window.end == window.start + dt.timedelta(seconds=seconds)
    assert window.seconds_left(now) == left


# --- the counter, on both backends ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reservation_fits_whole_or_counts_nothing(backend):
    window = Window.at(T0, 60)
    assert counter_reserve("events:t1", 3, 5, window)
    assert not counter_reserve("events:t1", 3, 5, window)  # 6 > 5: refused whole
    assert counter_values(["events:t1"], window) == {"events:t1": 3}  # the refusal counted nothing
    assert counter_reserve("events:t1", 2, 5, window)
    assert not counter_reserve("events:t1", 1, 5, window)
    assert not counter_reserve("events:t2", 6, 5, Window.at(T0, 60))  # more than the whole quota
    assert counter_values(["events:t1", "events:t2"], window) == {"events:t1": 5, "events:t2": 0}


@pytest.mark.django_db
def test_the_next_window_starts_from_zero(backend):
    minute = Window.at(T0, 60)
    assert counter_reserve("events:t1", 5, 5, minute)
    assert not counter_reserve("events:t1", 1, 5, Window.at(T0 + dt.timedelta(seconds=29), 60))
    later = Window.at(T0 + dt.timedelta(seconds=30), 60)  # 10:01:00
    assert later.start == minute.end
    assert counter_reserve("events:t1", 5, 5, later)
    assert counter_values(["events:t1"], minute) == {"events:t1": 5}
    assert counter_values(["events:t1"], later) == {"events:t1": 5}


@pytest.mark.django_db
def test_a_release_gives_the_count_back(backend):
    window = Window.at(T0, 60)
    assert counter_reserve("events:t1", 4, 5, window)
    counter_release("events:t1", 3, window)
    assert counter_values(["events:t1"], window) == {"events:t1": 1}
    counter_release("events:t1", 1, Window.at(T0 + dt.timedelta(minutes=5), 60))  # another window: nothing
    assert counter_values(["events:t1"], window) == {"events:t1": 1}


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_pass_the_limit(backend):
    window = Window.at(T0, 60)
    outcomes = race(*[lambda: counter_reserve("events:race", 1, 3, window) for _ in range(8)])
    assert sorted(outcomes, key=str) == [False] * 5 + [True] * 3
    assert counter_values(["events:race"], window) == {"events:race": 3}


@pytest.mark.django_db
def test_the_database_backend_keeps_one_row_per_window_and_prunes_old_ones():
    assert counter_backend() == "database"
    counter_reserve("events:t1", 1, 5, Window.at(T0, 60))
    counter_reserve("events:t1", 1, 5, Window.at(T0, 60))
    counter_reserve("events:t1", 1, 5, Window.at(T0 - dt.timedelta(days=3), 60))
    assert QuotaCounter.objects.count() == 2
    assert counters_prune(T0) == 1
    assert list(QuotaCounter.objects.values_list("count", flat=True)) == [2]


# --- the quotas ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_events_of_several_tenants_are_reserved_all_or_nothing(backend, tenant, other_tenant):
    Tenant.objects.filter(pk=other_tenant.pk).update(events_per_minute_quota=2)
    with pytest.raises(QuotaExceeded) as refused:
        events_quota_reserve({tenant.pk: 4, other_tenant.pk: 3}, now=T0)
    assert (refused.value.tenant_id, refused.value.limit, refused.value.retry_after) == (other_tenant.pk, 2, 30)
    assert "none stored" in refused.value.detail
    minute = Window.at(T0, 60)
    # the tenant that fitted was given back what was reserved for it
    assert counter_values([quotas.events_key(tenant.pk)], minute) == {quotas.events_key(tenant.pk): 0}
    assert quota_use(other_tenant, T0).events_refused_today == 3
    events_quota_reserve({tenant.pk: 4, other_tenant.pk: 2}, now=T0)
    assert quota_use(tenant, T0).events_this_minute == 4


@pytest.mark.django_db
def test_the_execution_quota_holds_until_the_next_hour(backend, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(executions_per_hour_quota=2)
    tenant.refresh_from_db()
    assert execution_quota_hold(tenant, T0) is None
    assert execution_quota_hold(tenant, T0) is None
    hold = execution_quota_hold(tenant, T0)
    assert hold is not None
    assert hold.kind == "execution_quota" and hold.until == dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC)
    assert "2 executions this hour" in hold.reason
    use = quota_use(tenant, T0)
    assert (use.executions_this_hour, use.executions_per_hour_quota, use.executions_deferred_today) == (2, 2, 1)
    assert execution_quota_hold(tenant, T0 + dt.timedelta(seconds=EXECUTIONS_WINDOW_SECONDS)) is None


@pytest.mark.django_db
def test_a_counter_outage_does_not_enforce_the_quota(settings, tenant):
    # nothing listens on this port: the quota is not enforced, and the error is logged
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    Tenant.objects.filter(pk=tenant.pk).update(events_per_minute_quota=1)
    events_quota_reserve({tenant.pk: 5}, now=T0)


# --- the tenant's settings -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_defaults_are_generous(tenant):
    assert (tenant.events_per_minute_quota, tenant.executions_per_hour_quota) == (60_000, 1_000_000)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["events_per_minute_quota", "executions_per_hour_quota"])
@pytest.mark.parametrize("value", [0, -5, 1_000_000_001, "many", None])
def test_a_quota_must_be_a_whole_number_from_1(tenant, owner, field, value):
    with pytest.raises(ValidationError) as error:
        tenant_update(tenant, {field: value}, owner)
    assert field in error.value.message_dict
    assert getattr(Tenant.objects.get(pk=tenant.pk), field) in (60_000, 1_000_000)


@pytest.mark.django_db
def test_an_owner_sets_the_quotas_a_collaborator_may_not(tenant, owner, collaborator):
    from django.core.exceptions import PermissionDenied

    updated = tenant_update(tenant, {"events_per_minute_quota": 120, "executions_per_hour_quota": 50}, owner)
    assert (updated.events_per_minute_quota, updated.executions_per_hour_quota) == (120, 50)
    with pytest.raises(PermissionDenied):
        tenant_update(tenant, {"events_per_minute_quota": 10**6}, collaborator)


@pytest.mark.django_db
def test_the_admin_edits_the_quotas_through_the_same_validation(client, tenant, owner):
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    url = f"/admin/governance/tenant/{tenant.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="events_per_minute_quota"' in page and 'name="executions_per_hour_quota"' in page
    form = tenant_admin_form(tenant, events_per_minute_quota=0, executions_per_hour_quota=500)
    response = client.post(url, form)
    assert response.status_code == 200  # the form again, with the field's error
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).events_per_minute_quota == 60_000
    response = client.post(url, {**form, "events_per_minute_quota": "240"})
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = Tenant.objects.get(pk=tenant.pk)
    assert (stored.events_per_minute_quota, stored.executions_per_hour_quota) == (240, 500)
