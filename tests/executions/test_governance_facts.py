"""Governance facts nobody can forge (issue 12, item 2; docs/governance.md, "Where each fact comes from").

Each forgery of the four auto-approval rules' facts (``now``, ``user_id``, ``budget``) is tried through
POST /api/events with a collaborator's token, POST /api/automations/<id>/execute and the portal's Run
form (as the owner, who is not trusted), and the ``automation_event`` signal, against a high-risk rule
the forged value would have auto-approved: every run waits for the council. Then the trusted sources
(the poster's token, the frozen server clock in the tenant's zone, the rule's own budget, our own
execution count) do decide, and conditions still read those payload keys as data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from automations import approval_facts
from executions.choices import ExecutionStatus
from executions.models import ApprovalRequest, AutomationExecution
from executions.signals import automation_event
from governance.models import TrustedUser
from tests.api import post_json, token_client
from tests.executions.conftest import make_event_rule
from tests.factories import make_execution, make_user

pytestmark = pytest.mark.django_db

# The frozen server clock: Saturday, outside the default business hours (Mon-Fri 09:00-17:00, UTC).
SATURDAY_NOON = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
MONDAY_10 = "2026-11-30T10:00:00+00:00"
ACTIVE = {"store_status": "active"}  # what the event rule's condition needs


@pytest.fixture
def server_clock(monkeypatch) -> Callable[[dt.datetime], None]:
    """Freeze the clock governance decides by (``automations.approval_facts.server_now``) at Saturday noon."""

    def freeze(moment: dt.datetime) -> None:
        monkeypatch.setattr(approval_facts, "server_now", lambda: moment)

    freeze(SATURDAY_NOON)
    return freeze


@pytest.fixture
def trusted(tenant):
    """Trent: a collaborator the tenant trusts."""
    user = make_user("trent", tenant, "collaborator")
    TrustedUser.objects.create(tenant=tenant, user=user)
    return user


def _rule(tenant, owner, auto_approval_rules: dict[str, Any], budget: float | None = None, **overrides: Any):
    config = {"template_id": "holiday_product", "count": 2}
    if budget is not None:
        config["budget"] = budget
    fields = {"name": "Risky restock", "risk_level": "high", **overrides}
    return make_event_rule(tenant, owner, auto_approval_rules=auto_approval_rules, action_config=config, **fields)


# --- the forgeries -------------------------------------------------------------------------------


def _business_hours(tenant, owner, trusted):
    rule = _rule(tenant, owner, {"business_hours_only": True})
    forged = {"now": MONDAY_10, "date": "2026-11-30", "weekday": "monday", "time": "10:00"}
    return rule, forged


def _trusted_user(tenant, owner, trusted):
    rule = _rule(tenant, owner, {"trusted_users_only": True})
    return rule, {"user_id": trusted.pk}


def _budget(tenant, owner, trusted):
    rule = _rule(tenant, owner, {"max_budget": 100}, budget=500)
    return rule, {"budget": 1}


def _frequency(tenant, owner, trusted):
    rule = _rule(tenant, owner, {"max_frequency_per_day": 1})
    # one run already acted today (by the server's clock); forging another day's "now" must not reset it
    make_execution(rule, "succeeded", triggered_at=SATURDAY_NOON - dt.timedelta(hours=1))
    return rule, {"now": MONDAY_10}


FORGERIES = {
    "business_hours_only": _business_hours,
    "trusted_users_only": _trusted_user,
    "max_budget": _budget,
    "max_frequency_per_day": _frequency,
}


def _via_api_event(rule, payload, collaborator, owner, capture) -> AutomationExecution:
    body = {"tenant_id": rule.tenant_id, "event_type": "product_added", "source": "store", "payload": payload}
    with capture(execute=True):
        response = token_client(collaborator).post("/api/events", body, format="json")
    assert response.status_code == 202, response.content
    return AutomationExecution.objects.filter(automation_rule=rule).latest("id")


def _via_api_execute(rule, payload, collaborator, owner, capture) -> AutomationExecution:
    response = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", {"context": payload})
    assert response.status_code == 200, response.content
    return AutomationExecution.objects.get(pk=response.json()["execution"]["id"])


def _via_portal_run(rule, payload, collaborator, owner, capture) -> AutomationExecution:
    client = Client()
    client.force_login(owner)
    response = client.post(f"/portal/automations/{rule.pk}/run", {"sample_context": json.dumps(payload)})
    assert response.status_code == 302
    return AutomationExecution.objects.filter(automation_rule=rule).latest("id")


def _via_signal(rule, payload, collaborator, owner, capture) -> AutomationExecution:
    with capture(execute=True):
        automation_event.send(
            sender=None, tenant_id=rule.tenant_id, event_type="product_added", source="store", payload=payload
        )
    return AutomationExecution.objects.filter(automation_rule=rule).latest("id")


SURFACES = {
    "api_event": (_via_api_event, "collaborator"),
    "api_execute": (_via_api_execute, "owner"),
    "portal_run": (_via_portal_run, "owner"),
    "signal": (_via_signal, None),
}


@pytest.mark.parametrize("surface", sorted(SURFACES))
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_governance_fact_never_auto_approves(
    tenant, owner, collaborator, trusted, server_clock, django_capture_on_commit_callbacks, surface, forgery
):
    # given: a high-risk rule whose one auto-approval rule the forged value would satisfy
    rule, forged = FORGERIES[forgery](tenant, owner, trusted)
    run, actor = SURFACES[surface]

    # when
    execution = run(rule, {**ACTIVE, **forged}, collaborator, owner, django_capture_on_commit_callbacks)

    # then: the run waits for the council, and the decision says which rule failed
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL
    assert execution.required_approval is True
    decision = execution.governance_decision
    assert decision["auto_approved"] is False
    assert [check["passed"] for check in decision["checks"] if check["rule"] == forgery] == [False]
    assert ApprovalRequest.objects.filter(execution=execution).exists()
    expected_actor = {"collaborator": collaborator.pk, "owner": owner.pk, None: None}[actor]
    assert execution.triggered_by_id == expected_actor
    # the forged keys are still in the context, as data
    assert all(execution.trigger_data[key] == value for key, value in forged.items())


# --- the trusted sources decide ------------------------------------------------------------------


def _post_event(user, payload, capture, tenant_id="tenant_test") -> None:
    body = {"tenant_id": tenant_id, "event_type": "product_added", "source": "store", "payload": payload}
    with capture(execute=True):
        response = token_client(user).post("/api/events", body, format="json")
    assert response.status_code == 202, response.content


def test_a_trusted_users_token_is_auto_approved_and_recorded(
    tenant, owner, trusted, server_clock, django_capture_on_commit_callbacks
):
    rule = _rule(tenant, owner, {"trusted_users_only": True})

    _post_event(trusted, ACTIVE, django_capture_on_commit_callbacks)

    execution = rule.executions.get()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.required_approval is False and execution.governance_decision["auto_approved"] is True
    assert execution.triggered_by_id == trusted.pk
    assert execution.event.actor_id == trusted.pk
    data = token_client(owner).get(f"/api/executions/{execution.pk}").json()
    assert data["triggered_by_user_id"] == str(trusted.pk)


def test_a_trusted_users_manual_run_is_auto_approved(tenant, owner, trusted, server_clock):
    rule = _rule(tenant, owner, {"trusted_users_only": True}, risk_level="medium", requires_approval=True)

    response = post_json(token_client(trusted), f"/api/automations/{rule.pk}/execute", {"context": ACTIVE})

    assert response.json()["execution"]["status"] == ExecutionStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("server_moment", "expected"),
    [
        # 01:00 UTC on Thursday is 10:00 in Tokyo: open, whatever the payload says the time is
        (dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC), ExecutionStatus.SUCCEEDED),
        # 10:00 UTC on Thursday is 19:00 in Tokyo: closed, though 10:00 UTC is inside 09:00-17:00
        (dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC), ExecutionStatus.AWAITING_APPROVAL),
    ],
)
def test_business_hours_are_the_server_clock_in_the_tenants_zone(
    tenant, owner, collaborator, server_clock, django_capture_on_commit_callbacks, server_moment, expected
):
    tenant.timezone = "Asia/Tokyo"
    tenant.save()
    rule = _rule(tenant, owner, {"business_hours_only": True})
    server_clock(server_moment)

    forged = {"now": "2026-11-26T11:00:00+09:00"} if expected == ExecutionStatus.AWAITING_APPROVAL else {}
    _post_event(collaborator, {**ACTIVE, **forged}, django_capture_on_commit_callbacks)

    assert rule.executions.get().status == expected


@pytest.mark.parametrize(("budget", "expected"), [(80, ExecutionStatus.SUCCEEDED), (500, "awaiting_approval")])
def test_max_budget_is_the_rules_own_budget(
    tenant, owner, collaborator, server_clock, django_capture_on_commit_callbacks, budget, expected
):
    rule = _rule(tenant, owner, {"max_budget": 100}, budget=budget)

    _post_event(collaborator, {**ACTIVE, "budget": 1000 if budget == 80 else 1}, django_capture_on_commit_callbacks)

    execution = rule.executions.get()
    assert execution.status == expected
    [check] = execution.governance_decision["checks"]
    assert f"budget {budget}" in check["reason"]


def _zone_near_midday() -> str:
    """A fixed-offset zone where it is about midday now, so no local midnight falls inside the test."""
    offset = 12 - round(timezone.now().hour + timezone.now().minute / 60)
    offset = max(-11, min(12, offset))
    # TRICKY: POSIX-style names invert the sign: Etc/GMT-3 is three hours ahead of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def test_max_frequency_counts_our_own_runs_today_by_the_server_clock(
    tenant, owner, collaborator, django_capture_on_commit_callbacks
):
    # The real server clock here (new runs are stamped with it), in a zone where it is midday.
    tenant.timezone = _zone_near_midday()
    tenant.save()
    rule = _rule(tenant, owner, {"max_frequency_per_day": 2})
    make_execution(rule, "succeeded", triggered_at=timezone.now() - dt.timedelta(days=1))  # yesterday

    for _ in range(3):
        _post_event(collaborator, ACTIVE, django_capture_on_commit_callbacks)

    statuses = list(rule.executions.filter(event__isnull=False).order_by("id").values_list("status", flat=True))
    assert statuses == [ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED, ExecutionStatus.AWAITING_APPROVAL]


def test_max_frequency_holds_inside_one_batch_decided_before_any_is_recorded(
    tenant, owner, collaborator, django_capture_on_commit_callbacks
):
    # One POST of three events: one match, one batch of three pending executions decided together
    # before any of them is written, so the count of runs allowed today must include the batch's own.
    tenant.timezone = _zone_near_midday()
    tenant.save()
    rule = _rule(tenant, owner, {"max_frequency_per_day": 1})
    body = [
        {"tenant_id": "tenant_test", "event_type": "product_added", "source": "store", "payload": ACTIVE}
        for _ in range(3)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(collaborator).post("/api/events", body, format="json")

    assert response.status_code == 202, response.content
    statuses = sorted(rule.executions.values_list("status", flat=True))
    assert statuses == sorted(
        [ExecutionStatus.SUCCEEDED, ExecutionStatus.AWAITING_APPROVAL, ExecutionStatus.AWAITING_APPROVAL]
    )


def test_the_test_conditions_preview_uses_the_callers_trusted_facts(tenant, owner, trusted, server_clock):
    rules = {"trusted_users_only": True, "business_hours_only": True}
    rule = _rule(tenant, owner, rules, risk_level="medium", requires_approval=True)
    url = f"/api/automations/{rule.pk}/test-conditions"
    forged = {"context": {**ACTIVE, "user_id": trusted.pk, "now": MONDAY_10}}

    as_owner = post_json(token_client(owner), url, forged).json()
    server_clock(dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC))  # Thursday 10:00: open
    as_trusted = post_json(token_client(trusted), url, {"context": ACTIVE}).json()

    assert as_owner["would_need_approval"] is True
    failed = {check["rule"] for check in as_owner["approval_checks"] if not check["passed"]}
    assert failed == {"trusted_users_only", "business_hours_only"}
    assert as_trusted["would_need_approval"] is False


def test_conditions_still_read_the_payloads_keys_as_data(
    tenant, owner, collaborator, trusted, server_clock, django_capture_on_commit_callbacks
):
    rule = _rule(
        tenant,
        owner,
        {},
        risk_level="low",
        conditions=[
            {"type": "budget", "operator": "<", "value": 10},
            {"type": "user_id", "operator": "=", "value": trusted.pk},
        ],
    )

    _post_event(collaborator, {"budget": 1, "user_id": trusted.pk}, django_capture_on_commit_callbacks)
    _post_event(collaborator, {"budget": 50, "user_id": trusted.pk}, django_capture_on_commit_callbacks)

    met = list(rule.executions.order_by("id").values_list("conditions_met", flat=True))
    assert met == [True, False]
