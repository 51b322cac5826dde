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


@pytest.mark.parametrize(
    ("context", "status", "failed"),
    [
        ({"product_count": 5, "store_status": "active"}, "skipped", [0]),  # the threshold comparison fails
        ({"product_count": 50, "store_status": "closed"}, "skipped", [0, 1]),
        ({"product_count": 2, "store_status": "closed"}, "skipped", [1]),
        ({"product_count": 2, "store_status": "active"}, "succeeded", []),
    ],
)
def test_a_manual_run_checks_what_test_conditions_shows(owner, rule, context, status, failed):
    """One answer: execute runs the action exactly when test-conditions says every check passes, and the
    execution records the rows the test showed (the threshold's own comparison first)."""
    client = token_client(owner)
    # given what Test Conditions says for this context
    tested = post_json(client, f"/api/automations/{rule.pk}/test-conditions", {"context": context}).json()
    assert [i for i, row in enumerate(tested["results"]) if not row["passed"]] == failed
    # when the rule is run with the same context
    data = post_json(client, f"/api/automations/{rule.pk}/execute", {"context": context}).json()
    # then the run agrees and logs the same rows
    execution = data["execution"]
    assert execution["status"] == status
    assert execution["conditions_met"] is tested["conditions_met"] is (status == "succeeded")
    assert execution["condition_results"] == tested["results"]
    assert execution["condition_results"][0]["condition"] == {"type": "product_count", "operator": "<", "value": 3}
    stored = AutomationExecution.objects.get(pk=execution["id"])
    assert stored.condition_results == tested["results"]
    assert stored.action_started_at is None if failed else stored.action_started_at is not None


def test_a_manual_run_of_a_threshold_rule_reads_the_metric_from_the_tenants_facts(owner, rule):
    """No metric in the context: the run reads the tenant's latest sample (build_context), as the tick would."""
    from executions.models import MetricSample

    MetricSample.objects.create(tenant_id=rule.tenant_id, metric="product_count", value_number=7)
    data = post_json(
        token_client(owner), f"/api/automations/{rule.pk}/execute", {"context": {"store_status": "active"}}
    ).json()
    first = data["execution"]["condition_results"][0]
    assert data["execution"]["status"] == "skipped"
    assert first["passed"] is False and first["actual_value"] == 7
    assert first["reason"] == "product_count is 7, not less than 3"
