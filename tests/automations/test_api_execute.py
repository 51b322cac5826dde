"""POST /api/automations/<id>/execute: the pipeline runs in the request up to the action's first attempt."""

from __future__ import annotations

import pytest

from executions.models import AutomationExecution
from tests.api import post_json, token_client
from tests.factories import make_rule

pytestmark = pytest.mark.django_db

ACTIVE = {"product_count": 2, "store_status": "active"}


def test_low_risk_rule_runs_now(owner, rule):
    response = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", {"context": ACTIVE})
    assert response.status_code == 200
    data = response.json()
    assert data["execution"]["status"] == "succeeded" and data["execution"]["success"] is True
    assert data["execution"]["trigger_source"] == "manual"
    assert data["execution"]["trigger_data"]["product_count"] == 2
    assert str(data["execution"]["id"]) in data["message"] and "succeeded" in data["message"]


def test_conditions_not_met_is_skipped(owner, rule):
    response = post_json(
        token_client(owner), f"/api/automations/{rule.pk}/execute", {"context": {"store_status": "closed"}}
    )
    assert response.json()["execution"]["status"] == "skipped"


def test_high_risk_rule_waits_for_approval_then_council_approves(tenant, owner, council_member):
    rule = make_rule(tenant, owner, risk_level="high")
    data = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", {"context": ACTIVE}).json()
    assert data["execution"]["status"] == "awaiting_approval" and data["execution"]["required_approval"] is True
    council = token_client(council_member)
    approvals = council.get("/api/approvals").json()
    assert approvals["count"] == 1 and approvals["approvals"][0]["execution_id"] == data["execution"]["id"]
    approved = council.post(f"/api/executions/{data['execution']['id']}/approve")
    assert approved.status_code == 200
    assert council.post(f"/api/executions/{data['execution']['id']}/approve").status_code == 409


def test_owner_may_bypass_approval(tenant, owner):
    rule = make_rule(tenant, owner, risk_level="high")
    body = {"context": ACTIVE, "bypass_approval": True}
    data = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", body).json()
    assert data["execution"]["status"] == "succeeded"


def test_a_run_you_start_is_manual_and_records_you(owner, rule):
    body = {"context": ACTIVE, "trigger_source": "manual"}
    data = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", body).json()
    assert data["execution"]["trigger_source"] == "manual"
    assert data["execution"]["triggered_by_user_id"] == str(owner.pk)


@pytest.mark.parametrize("label", ["event", "scheduler", "threshold", "behavior", None, ["manual"]])
def test_a_run_you_start_cannot_be_labelled_anything_but_manual(owner, rule, label):
    body = {"context": ACTIVE, "trigger_source": label}
    response = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", body)
    assert response.status_code == 400
    assert "manual" in response.json()["trigger_source"][0]
    assert not AutomationExecution.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"context": [1]}, "context"),
        ({"context": {}, "trigger_source": "telepathy"}, "trigger_source"),
        ({"context": {}, "bypass_approval": "yes"}, "bypass_approval"),
        ([1, 2], "non_field_errors"),
    ],
)
def test_bad_execute_body_is_400_and_runs_nothing(owner, rule, body, field):
    response = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", body)
    assert response.status_code == 400
    assert field in response.json()
    assert AutomationExecution.objects.count() == 0


def test_execute_without_body_uses_an_empty_context(owner, rule):
    response = token_client(owner).post(f"/api/automations/{rule.pk}/execute")
    assert response.status_code == 200
    assert response.json()["execution"]["status"] == "skipped"


def test_reject_with_reason(tenant, owner, council_member, django_capture_on_commit_callbacks):
    rule = make_rule(tenant, owner, risk_level="high")
    execution_id = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", {"context": ACTIVE}).json()[
        "execution"
    ]["id"]
    council = token_client(council_member)
    assert post_json(council, f"/api/executions/{execution_id}/reject", {"reason": 5}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(council, f"/api/executions/{execution_id}/reject", {"reason": "not now"})
    assert response.status_code == 200
    assert response.json()["execution"]["status"] == "rejected"
    # owners hear about the rejection in their notifications
    notices = token_client(owner).get("/api/notifications").json()
    assert any(item["kind"] == "execution_rejected" for item in notices["notifications"])
