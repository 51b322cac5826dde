"""Tenant quotas on every surface: POST /api/events (the DRF view and the lean path through config.wsgi's
stack) answers 429 with Retry-After and stores nothing, the portal and Python callers get the reason; an
execution over the hour's quota is deferred and drains once the window allows; /metrics and the analytics
show the numbers. The quotas' clock is fixed (``governance.quotas.clock``); the pipeline runs eagerly
(tests/executions/test_worker_quota.py runs it on a real worker)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from automations import approval_facts
from executions.choices import ExecutionStatus
from executions.models import AutomationExecution, Event
from executions.services import emit_event, execution_approve, sweep_outbox
from governance import quotas
from governance.models import Tenant
from governance.quotas import QuotaExceeded, Window, counter_reserve, executions_key
from tests.api import post_json, token_client, token_for
from tests.executions.test_api_ingest import both, call, environ_for, full, lean, lean_answers, warmed  # noqa: F401

pytestmark = pytest.mark.django_db

# The quotas' clock starts half a minute into an hour a day ahead of the real one: rows written now (their
# updated_at is the real time) are then older than any due time the test sets, as they are in production.
T0 = timezone.now().replace(minute=0, second=30, microsecond=0) + dt.timedelta(days=1)
NEXT_HOUR = T0.replace(second=0) + dt.timedelta(hours=1)


class Clock:
    """The quotas' clock, set by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fixed = Clock(T0)
    monkeypatch.setattr(quotas, "clock", fixed)
    return fixed


def set_quota(tenant: Tenant, **quota: int) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(**quota)
    tenant.refresh_from_db()


def refused_metric(tenant_id: str) -> float:
    return REGISTRY.get_sample_value("automations_quota_refused_events_total", {"tenant_id": tenant_id}) or 0.0


def event(tenant: Tenant, key: str | None = None, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"tenant_id": tenant.pk, "event_type": "product_added", **extra}
    if key:
        body["idempotency_key"] = key
    return body


# --- events: the DRF view ----------------------------------------------------------------------------


def test_over_the_event_quota_the_api_answers_429_and_stores_nothing(clock, tenant, owner):
    set_quota(tenant, events_per_minute_quota=3)
    api = token_client(owner)
    refused_before = refused_metric(tenant.pk)
    assert [post_json(api, "/api/events", event(tenant)).status_code for _ in range(3)] == [202, 202, 202]

    response = post_json(api, "/api/events", event(tenant, payload={"n": 4}))

    assert response.status_code == 429
    assert response["Retry-After"] == "30"  # the minute ends half a minute after T0
    assert response.json() == {
        "detail": "Tenant tenant_test is over its quota of 3 events per minute: this event was refused, none "
        "stored. Expected available in 30 seconds."
    }
    assert Event.objects.filter(tenant=tenant).count() == 3
    assert refused_metric(tenant.pk) == refused_before + 1


def test_a_batch_fits_whole_or_is_refused_whole(clock, tenant, owner):
    set_quota(tenant, events_per_minute_quota=5)
    api = token_client(owner)
    assert post_json(api, "/api/events", [event(tenant) for _ in range(4)]).status_code == 202

    refused = post_json(api, "/api/events", [event(tenant, payload={"n": n}) for n in range(2)])

    assert refused.status_code == 429 and "these 2 events were refused, none stored" in refused.json()["detail"]
    assert Event.objects.filter(tenant=tenant).count() == 4
    # the refused batch counted nothing: one more still fits
    assert post_json(api, "/api/events", [event(tenant)]).status_code == 202
    assert post_json(api, "/api/events", event(tenant)).status_code == 429
    assert Event.objects.filter(tenant=tenant).count() == 5


def test_a_batch_larger_than_the_whole_quota_says_so(clock, tenant, owner):
    set_quota(tenant, events_per_minute_quota=2)
    response = post_json(token_client(owner), "/api/events", [event(tenant) for _ in range(3)])
    assert response.status_code == 429
    assert "more than tenant tenant_test's whole quota of 2 per minute" in response.json()["detail"]
    assert not Event.objects.exists()


def test_redelivered_events_do_not_use_the_quota(clock, tenant, owner):
    set_quota(tenant, events_per_minute_quota=2)
    api = token_client(owner)
    assert post_json(api, "/api/events", event(tenant, "k1")).status_code == 202
    for _ in range(3):  # the same key again: a duplicate, answered with the stored event
        response = post_json(api, "/api/events", event(tenant, "k1"))
        assert response.status_code == 202 and response.json()["events"][0]["duplicate"]
    # a key repeated within one list counts once
    assert post_json(api, "/api/events", [event(tenant, "k2"), event(tenant, "k2")]).status_code == 202
    assert post_json(api, "/api/events", event(tenant, "k3")).status_code == 429
    assert sorted(Event.objects.values_list("idempotency_key", flat=True)) == ["k1", "k2"]


def test_the_next_minute_accepts_again(clock, tenant, owner):
    set_quota(tenant, events_per_minute_quota=1)
    api = token_client(owner)
    assert post_json(api, "/api/events", event(tenant)).status_code == 202
    clock.now = T0 + dt.timedelta(seconds=29)
    response = post_json(api, "/api/events", event(tenant))
    assert (response.status_code, response["Retry-After"]) == (429, "1")
    clock.now = T0 + dt.timedelta(seconds=30)  # the next minute
    assert post_json(api, "/api/events", event(tenant)).status_code == 202
    assert Event.objects.count() == 2


def test_one_tenant_over_its_quota_leaves_another_alone(clock, tenant, other_tenant, owner, other_owner):
    set_quota(tenant, events_per_minute_quota=1)
    assert post_json(token_client(owner), "/api/events", event(tenant)).status_code == 202
    assert post_json(token_client(owner), "/api/events", event(tenant)).status_code == 429
    assert post_json(token_client(other_owner), "/api/events", event(other_tenant)).status_code == 202


# --- events: the lean path (config.wsgi's stack), the same answer -----------------------------------------


def test_the_lean_path_answers_the_views_429_and_stores_nothing(clock, warmed, full, tenant, owner):  # noqa: F811
    set_quota(tenant, events_per_minute_quota=3)  # the warm-up post used 1
    token = token_for(owner)
    assert lean_answers(warmed, event(tenant), token)  # 2
    assert call(full, environ_for(event(tenant), token))[0] == 202  # 3
    stored = Event.objects.count()

    (status, headers, answer), (full_status, full_headers, full_answer) = both(warmed, full, event(tenant), token)

    assert status == full_status == 429
    assert headers == full_headers and headers["Retry-After"] == "30"
    assert answer == full_answer and "over its quota of 3 events per minute" in answer["detail"]
    assert Event.objects.count() == stored
    assert lean_answers(warmed, event(tenant), token)  # the lean path answered the refusal itself


def test_the_lean_path_refuses_a_batch_whole(clock, warmed, full, tenant, owner):  # noqa: F811
    set_quota(tenant, events_per_minute_quota=4)  # the warm-up post used 1
    token = token_for(owner)
    batch = [event(tenant, f"b{n}") for n in range(4)]
    status, headers, answer = call(warmed, environ_for(batch, token))
    assert (status, headers["Retry-After"]) == (429, "30")
    assert "these 4 events were refused" in answer["detail"]
    assert not Event.objects.filter(idempotency_key__startswith="b").exists()
    assert call(warmed, environ_for(batch[:3], token))[0] == 202
    assert Event.objects.filter(idempotency_key__startswith="b").count() == 3


# --- events: the portal and Python callers ---------------------------------------------------------------


def test_the_portals_test_event_shows_the_reason_and_stores_nothing(clock, client, tenant, owner, event_rule):
    set_quota(tenant, events_per_minute_quota=1)
    emit_event(tenant.pk, "product_added", {})
    client.force_login(owner)
    form = {"event_type": "product_added", "source": "store", "customer_id": "", "payload": "{}"}
    response = client.post(f"/portal/automations/{event_rule.pk}/send-event", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "over its quota of 1 events per minute" in response.content.decode()
    assert Event.objects.count() == 1


def test_emit_event_raises_a_clear_exception(clock, tenant):
    set_quota(tenant, events_per_minute_quota=1)
    emit_event(tenant.pk, "product_added", {}, idempotency_key="first")
    assert emit_event(tenant.pk, "product_added", {}, idempotency_key="first").duplicate  # no quota used
    with pytest.raises(QuotaExceeded) as refused:
        emit_event(tenant.pk, "product_added", {}, idempotency_key="second")
    assert (refused.value.tenant_id, refused.value.quota, refused.value.retry_after) == (
        tenant.pk,
        "events_per_minute",
        30,
    )
    assert list(Event.objects.values_list("idempotency_key", flat=True)) == ["first"]


# --- executions --------------------------------------------------------------------------------------------


def emit(tenant, capture, key: str) -> AutomationExecution:
    with capture(execute=True):
        result = emit_event(tenant.pk, "product_added", {"product_id": key}, source="store", idempotency_key=key)
    return AutomationExecution.objects.get(event_id=result.id)


def due_deferred_queued(now: dt.datetime) -> int:
    """The outbox sweep at ``now``: how many deferred executions it queued (their due time come)."""
    return sweep_outbox(now=now, older_than_seconds=3600)["deferred_queued"]


def test_over_the_execution_quota_an_execution_waits_and_runs_once_the_hour_allows(
    clock, monkeypatch, client, tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks
):
    # given: one action start per hour, used by the first run
    set_quota(tenant, executions_per_hour_quota=1)
    first = emit(tenant, django_capture_on_commit_callbacks, "p1")
    assert first.status == ExecutionStatus.SUCCEEDED

    # when: a second run clears its conditions and governance in the same hour
    held = emit(tenant, django_capture_on_commit_callbacks, "p2")

    # then: it waits for the next hour, with the reason, its action not started
    assert held.status == ExecutionStatus.DEFERRED and held.success is None
    assert held.next_attempt_at == NEXT_HOUR and held.action_attempts == 0 and held.action_started_at is None
    hold = held.governance_decision["hold"]
    assert hold["kind"] == "execution_quota" and hold["until"] == NEXT_HOUR.isoformat()
    assert held.governance_decision["auto_approved"] is True  # the decision is kept, the hold added
    client.force_login(owner)
    page = client.get(f"/portal/automations/{event_rule.pk}/executions/{held.pk}").content.decode()
    assert 'data-hold="execution_quota"' in page and "its quota of 1 executions this hour" in page

    # not due yet: nothing resumes
    assert due_deferred_queued(NEXT_HOUR - dt.timedelta(seconds=1)) == 0
    # due by the server's clock, but the quota's clock is still in T0's hour: the hold step holds it again
    monkeypatch.setattr(approval_facts, "server_now", lambda: NEXT_HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        assert due_deferred_queued(NEXT_HOUR) == 1
    held.refresh_from_db()
    assert (held.status, held.next_attempt_at, held.action_attempts) == (ExecutionStatus.DEFERRED, NEXT_HOUR, 0)

    # the next hour: it runs, once
    clock.now = NEXT_HOUR + dt.timedelta(seconds=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert due_deferred_queued(clock.now) == 1
    held.refresh_from_db()
    assert (held.status, held.action_attempts, held.next_attempt_at) == (ExecutionStatus.SUCCEEDED, 1, None)
    assert due_deferred_queued(clock.now + dt.timedelta(hours=1)) == 0
    assert AutomationExecution.objects.filter(status=ExecutionStatus.SUCCEEDED).count() == 2


def test_an_approved_execution_is_held_before_its_action(
    clock, monkeypatch, tenant, owner, council_member, risky_rule, active_store, django_capture_on_commit_callbacks
):
    execution = emit(tenant, django_capture_on_commit_callbacks, "risky")
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL
    set_quota(tenant, executions_per_hour_quota=1)
    assert counter_reserve(executions_key(tenant.pk), 1, 1, Window.at(T0, 3600))  # the hour's one start is used

    with django_capture_on_commit_callbacks(execute=True):
        execution_approve(execution, council_member)

    execution.refresh_from_db()
    assert (execution.status, execution.next_attempt_at, execution.action_attempts) == (
        ExecutionStatus.DEFERRED,
        NEXT_HOUR,
        0,
    )
    assert execution.governance_decision["hold"]["kind"] == "execution_quota"
    assert execution.approved_by_user_id == str(council_member.pk)
    clock.now = NEXT_HOUR
    monkeypatch.setattr(approval_facts, "server_now", lambda: NEXT_HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        assert due_deferred_queued(NEXT_HOUR) == 1
    execution.refresh_from_db()
    assert (execution.status, execution.action_attempts) == (ExecutionStatus.SUCCEEDED, 1)


# --- shown: /metrics and the analytics ----------------------------------------------------------------------


def test_metrics_and_analytics_show_the_quotas(
    clock, client, tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks
):
    from executions.monitoring import exposition

    set_quota(tenant, events_per_minute_quota=2, executions_per_hour_quota=1)
    deferred_before = (
        REGISTRY.get_sample_value("automations_quota_deferred_executions_total", {"tenant_id": tenant.pk}) or 0.0
    )
    emit(tenant, django_capture_on_commit_callbacks, "p1")  # runs: 1 of 1 starts this hour
    emit(tenant, django_capture_on_commit_callbacks, "p2")  # deferred
    api = token_client(owner)
    assert post_json(api, "/api/events", [event(tenant), event(tenant)]).status_code == 429  # 2 refused

    scraped = exposition().decode()
    assert f'automations_quota_refused_events_total{{tenant_id="{tenant.pk}"}}' in scraped
    assert "automations_executions_held_by_quota 1.0" in scraped
    assert (
        REGISTRY.get_sample_value("automations_quota_deferred_executions_total", {"tenant_id": tenant.pk})
        == deferred_before + 1
    )

    answer = api.get("/api/analytics", {"tenant_id": tenant.pk}).json()
    assert answer["quotas"] == {
        "events_this_minute": 2,
        "events_per_minute_quota": 2,
        "executions_this_hour": 1,
        "executions_per_hour_quota": 1,
        "events_refused_today": 2,
        "executions_deferred_today": 1,
        "executions_held": 1,
    }
    client.force_login(owner)
    page = client.get("/portal/dashboard").content.decode()
    panel = page.split("data-quotas", 1)[1].split("</section>", 1)[0]
    assert 'data-quota="events_per_minute"' in panel and "2 refused" in panel
    assert "<span data-held>1</span> waiting now" in panel


def test_the_schema_describes_the_quotas():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    quota_fields = schema["components"]["schemas"]["QuotaFiguresSchema"]["properties"]
    assert set(quota_fields) == {
        "events_this_minute",
        "events_per_minute_quota",
        "executions_this_hour",
        "executions_per_hour_quota",
        "events_refused_today",
        "executions_deferred_today",
        "executions_held",
    }
    assert "quotas" in schema["components"]["schemas"]["AnalyticsSchema"]["required"]
    refusal = schema["paths"]["/api/events/"]["post"]["responses"]["429"]
    assert "Retry-After" in refusal["description"]
    json.dumps(schema, default=str)


def test_the_outbox_sweep_task_resumes_due_held_executions(
    clock, tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    from executions.tasks import sweep_outbox_task

    set_quota(tenant, executions_per_hour_quota=1)
    emit(tenant, django_capture_on_commit_callbacks, "p1")
    held = emit(tenant, django_capture_on_commit_callbacks, "p2")
    assert held.status == ExecutionStatus.DEFERRED
    # due by the server's clock (the sweep's), and the quotas' clock in the next hour
    due = timezone.now() - dt.timedelta(seconds=1)
    AutomationExecution.objects.filter(pk=held.pk).update(next_attempt_at=due, updated_at=due - dt.timedelta(seconds=1))
    clock.now = NEXT_HOUR
    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_outbox_task.delay().get()
    assert counts["deferred_queued"] == 1 and counts["errors"] == 0
    held.refresh_from_db()
    assert (held.status, held.action_attempts) == (ExecutionStatus.SUCCEEDED, 1)


def test_an_early_message_for_a_deferred_execution_neither_runs_it_nor_counts_it(
    clock, tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks
):
    from executions.services import execution_run_action
    from governance.quotas import quota_use

    # given: a run deferred to the next hour, then room made in this hour's quota
    set_quota(tenant, executions_per_hour_quota=1)
    emit(tenant, django_capture_on_commit_callbacks, "p1")
    held = emit(tenant, django_capture_on_commit_callbacks, "p2")
    assert held.status == ExecutionStatus.DEFERRED
    set_quota(tenant, executions_per_hour_quota=5)

    # when: a message for it arrives before its time (a duplicate, an early sweep)
    with django_capture_on_commit_callbacks(execute=True):
        execution_run_action(held.pk)

    # then: it still waits for its time, and the hour's count is the first run's alone
    held.refresh_from_db()
    assert (held.status, held.action_attempts, held.next_attempt_at) == (ExecutionStatus.DEFERRED, 0, NEXT_HOUR)
    assert quota_use(tenant, T0).executions_this_hour == 1
