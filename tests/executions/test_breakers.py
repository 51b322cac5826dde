"""The rules' circuit breaker (executions/breakers.py): N failed runs in a row pause a rule, once, with one notice;
enabling it, on any surface, resumes it and resets the count. A real HTTP sink answers; the pipeline runs eagerly
(tests/executions/test_worker_breakers.py runs the same on a real worker)."""

from __future__ import annotations

import pytest
from django.test import Client

from automations.choices import RuleStateChangeKind
from automations.models import AutomationRule, RuleStateChange
from automations.services import rule_pause, rule_set_enabled, rule_update
from executions.choices import ExecutionStatus, NotificationKind
from executions.delivery.services import endpoint_create
from executions.models import AutomationExecution, Notification
from executions.services import emit_event
from tests.api import post_json, token_client
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PRODUCT = {"product_id": "p_1", "name": "Winter hat"}


@pytest.fixture
def breaker_at_3(tenant):
    tenant.rule_breaker_failures = 3
    tenant.save(update_fields=["rule_breaker_failures"])
    return tenant


@pytest.fixture
def endpoint(tenant, sink, loopback_allowed):
    return endpoint_create(tenant, sink.url(), action_type="add_product", description="platform")


def emit(tenant, capture, event_type="product_added"):
    with capture(execute=True):
        return emit_event(tenant.pk, event_type, dict(PRODUCT), source="store")


def runs(rule) -> list[str]:
    return list(
        AutomationExecution.objects.filter(automation_rule=rule).order_by("id").values_list("status", flat=True)
    )


def test_a_rule_refused_n_times_in_a_row_is_paused_once_with_one_notice_and_enabling_resumes_it(
    breaker_at_3, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    tenant = breaker_at_3
    sink.default = Reply(status=400, body=b"unknown template")

    # when the receiver refuses three runs in a row
    for _ in range(3):
        emit(tenant, django_capture_on_commit_callbacks)

    # then the rule is paused, by the system, saying why, and its creator hears of it once
    event_rule.refresh_from_db()
    assert runs(event_rule) == [ExecutionStatus.FAILED] * 3
    assert (event_rule.enabled, event_rule.consecutive_failures, event_rule.paused_by_breaker) == (False, 3, True)
    assert event_rule.paused_reason.startswith("Paused automatically: its runs failed 3 times in a row.")
    assert "answered 400 Bad Request" in event_rule.paused_reason and sink.url() in event_rule.paused_reason
    changes = list(RuleStateChange.objects.filter(rule=event_rule).values_list("kind", "changed_by"))
    assert changes == [(RuleStateChangeKind.PAUSED, None)]
    notices = list(Notification.objects.filter(kind=NotificationKind.RULE_PAUSED))
    assert [(n.user_id, n.tenant_id) for n in notices] == [(owner.pk, tenant.pk)]
    assert notices[0].title == f'Automation "{event_rule.name}" was paused: it failed 3 times in a row'
    assert f"POST /api/automations/{event_rule.pk}/enable" in notices[0].body
    assert "answered 400 Bad Request" in notices[0].body

    # and further events run nothing: a paused rule is a disabled one
    emit(tenant, django_capture_on_commit_callbacks)
    assert len(runs(event_rule)) == 3

    # the API says it was paused by the breaker, and why
    api = token_client(owner)
    shown = api.get(f"/api/automations/{event_rule.pk}").json()
    shown = shown.get("automation", shown)
    assert (shown["enabled"], shown["paused_by_breaker"], shown["consecutive_failures"]) == (False, True, 3)
    assert shown["paused_reason"] == event_rule.paused_reason and shown["paused_at"]

    # when the owner enables it again through the API, after fixing the receiver
    response = post_json(api, f"/api/automations/{event_rule.pk}/enable")
    assert response.status_code == 200, response.content
    sink.default = Reply(status=200)
    emit(tenant, django_capture_on_commit_callbacks)

    # then it runs again, with its count reset and the pause forgotten
    event_rule.refresh_from_db()
    assert runs(event_rule)[-1] == ExecutionStatus.SUCCEEDED
    assert (event_rule.enabled, event_rule.consecutive_failures, event_rule.paused_at, event_rule.paused_reason) == (
        True,
        0,
        None,
        "",
    )
    kinds = list(RuleStateChange.objects.filter(rule=event_rule).order_by("id").values_list("kind", flat=True))
    assert kinds == [RuleStateChangeKind.PAUSED, RuleStateChangeKind.ENABLED]
    assert Notification.objects.filter(kind=NotificationKind.RULE_PAUSED).count() == 1


def test_a_success_resets_the_count(
    breaker_at_3, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    tenant = breaker_at_3
    sink.reply(Reply(status=400), Reply(status=400), Reply(status=200), Reply(status=400), Reply(status=400))

    for _ in range(5):
        emit(tenant, django_capture_on_commit_callbacks)

    event_rule.refresh_from_db()
    assert runs(event_rule).count(ExecutionStatus.FAILED) == 4
    assert (event_rule.enabled, event_rule.consecutive_failures, event_rule.paused_at) == (True, 2, None)


def test_runs_that_never_acted_neither_count_nor_reset(
    breaker_at_3, owner, event_rule, sink, endpoint, django_capture_on_commit_callbacks
):
    # given two refusals in a row
    from executions.models import MetricSample

    active = MetricSample.objects.create(tenant=breaker_at_3, metric="store_status", value_text="active")
    sink.default = Reply(status=400)
    for _ in range(2):
        emit(breaker_at_3, django_capture_on_commit_callbacks)
    # when a run is skipped (its condition fails: the store is closed)
    active.delete()
    MetricSample.objects.create(tenant=breaker_at_3, metric="store_status", value_text="closed")
    emit(breaker_at_3, django_capture_on_commit_callbacks)

    event_rule.refresh_from_db()
    assert runs(event_rule) == [ExecutionStatus.FAILED, ExecutionStatus.FAILED, ExecutionStatus.SKIPPED]
    assert (event_rule.enabled, event_rule.consecutive_failures) == (True, 2)


def test_a_breaker_at_zero_never_pauses(
    tenant, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    tenant.rule_breaker_failures = 0
    tenant.save(update_fields=["rule_breaker_failures"])
    sink.default = Reply(status=400)

    for _ in range(3):
        emit(tenant, django_capture_on_commit_callbacks)

    event_rule.refresh_from_db()
    assert (event_rule.enabled, event_rule.consecutive_failures, event_rule.paused_at) == (True, 3, None)


def test_the_default_breaker_is_20_failures(tenant):
    tenant.refresh_from_db()
    assert tenant.rule_breaker_failures == 20


def test_only_one_pause_wins(tenant, owner, event_rule):
    first = AutomationRule.objects.get(pk=event_rule.pk)
    second = AutomationRule.objects.get(pk=event_rule.pk)

    assert rule_pause(first, "Paused automatically: test") is True
    assert rule_pause(second, "Paused automatically: test") is False
    assert RuleStateChange.objects.filter(rule=event_rule, kind=RuleStateChangeKind.PAUSED).count() == 1


def test_the_notice_goes_to_the_owners_when_the_creator_left(
    breaker_at_3, owner, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    creator = make_user("dora", breaker_at_3, "collaborator")
    rule = make_event_rule(breaker_at_3, creator)
    creator.memberships.all().delete()
    sink.default = Reply(status=400)

    for _ in range(3):
        emit(breaker_at_3, django_capture_on_commit_callbacks)

    rule.refresh_from_db()
    assert rule.paused_by_breaker
    assert list(Notification.objects.filter(kind=NotificationKind.RULE_PAUSED).values_list("user_id", flat=True)) == [
        owner.pk
    ]


def paused(rule: AutomationRule) -> AutomationRule:
    AutomationRule.objects.filter(pk=rule.pk).update(consecutive_failures=7)
    rule.refresh_from_db()
    assert rule_pause(rule, "Paused automatically: its runs failed 7 times in a row. Last failure: x.")
    rule.refresh_from_db()
    return rule


def test_the_rule_page_shows_the_pause_and_the_portal_enable_resumes_it(tenant, owner, event_rule):
    rule = paused(event_rule)
    client = Client()
    client.force_login(owner)

    page = client.get(f"/portal/automations/{rule.pk}").content.decode()
    assert "data-breaker-notice" in page and "failed 7 times in a row" in page
    assert "Paused automatically (circuit breaker)" in page  # the history

    response = client.post(f"/portal/automations/{rule.pk}/enabled", {"enabled": "true"})
    assert response.status_code in (200, 302)
    rule.refresh_from_db()
    assert (rule.enabled, rule.consecutive_failures, rule.paused_at, rule.paused_reason) == (True, 0, None, "")
    assert "data-breaker-notice" not in client.get(f"/portal/automations/{rule.pk}").content.decode()


@pytest.mark.parametrize("how", ["service", "update", "admin"])
def test_every_way_of_enabling_resumes(tenant, owner, event_rule, how):
    rule = paused(event_rule)
    if how == "service":
        rule_set_enabled(rule, True, owner)
    elif how == "update":
        rule_update(rule, {"enabled": True}, owner)
    else:
        owner.is_staff = True
        owner.save(update_fields=["is_staff"])
        client = Client()
        client.force_login(owner)
        page = client.get(f"/admin/automations/automationrule/{rule.pk}/change/")
        form = page.context["adminform"].form
        data = {key: value for key, value in form.initial.items() if value is not None}
        for key in ("trigger_config", "conditions", "action_config", "auto_approval_rules"):
            data[key] = form[key].value()
        data.update(tenant=rule.tenant_id, enabled="on", assigned_council="")
        data.update({"versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"})
        response = client.post(f"/admin/automations/automationrule/{rule.pk}/change/", data)
        assert response.status_code == 302, response.content.decode()[:2000]

    rule.refresh_from_db()
    assert (rule.enabled, rule.consecutive_failures, rule.paused_at, rule.paused_reason) == (True, 0, None, "")


def test_disabling_by_hand_is_not_a_pause(tenant, owner, event_rule):
    rule_set_enabled(event_rule, False, owner)

    event_rule.refresh_from_db()
    assert (event_rule.enabled, event_rule.paused_by_breaker, event_rule.paused_at) == (False, False, None)


@pytest.mark.django_db(transaction=True)
def test_workers_ending_failures_at_once_pause_the_rule_once_with_one_notice(tenant, owner):
    from django.db import transaction

    from executions.breakers import breakers_check
    from tests.executions.workers import race

    # given: a rule one failure short of its breaker
    tenant.rule_breaker_failures = 3
    tenant.save(update_fields=["rule_breaker_failures"])
    rule = make_event_rule(tenant, owner)
    AutomationExecution.objects.create(
        automation_rule=rule, tenant=tenant, trigger_source="event", status=ExecutionStatus.FAILED, success=False
    )
    AutomationRule.objects.filter(pk=rule.pk).update(consecutive_failures=2)

    def end_a_failure() -> list[AutomationRule]:
        # what record_results does for a failed run: its totals, then the breaker, in one transaction
        with transaction.atomic():
            AutomationRule.add_runs(rule.pk, 1, 0, 1, 10.0, streak=(False, 1))
            return breakers_check({rule.pk})

    # when: four workers record a failure at the same moment
    outcomes = race(*[end_a_failure] * 4)

    # then: exactly one of them paused it, once, with one notice
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
    assert sum(len(paused) for paused in outcomes) == 1
    rule.refresh_from_db()
    assert (rule.enabled, rule.consecutive_failures) == (False, 6)
    assert RuleStateChange.objects.filter(rule=rule, kind=RuleStateChangeKind.PAUSED).count() == 1
    assert Notification.objects.filter(kind=NotificationKind.RULE_PAUSED).count() == 1
