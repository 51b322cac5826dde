"""test-conditions (saved and unsaved rules), summaries and recommendations over the API."""

from __future__ import annotations

import pytest

from automations.models import AutomationRule
from tests.api import post_json, token_client
from tests.factories import LOW_PRODUCT_ALERT, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner):
    return token_client(owner)


def test_threshold_rule_checks_the_trigger_first(client, rule):
    response = post_json(
        client,
        f"/api/automations/{rule.pk}/test-conditions",
        {"context": {"product_count": 2, "store_status": "active"}},
    )
    assert response.status_code == 200
    data = response.json()
    assert data["conditions_met"] is True
    assert data["summary"] == "All 2 conditions passed"
    assert data["would_execute"] is True
    assert data["would_need_approval"] is False
    first, second = data["results"]
    assert first["condition"] == {"type": "product_count", "operator": "<", "value": 3}
    assert first["passed"] is True and first["actual_value"] == 2 and first["expected_value"] == 3
    assert second["condition"] == {"type": "store_status", "operator": "=", "value": "active"}
    assert set(first) >= {"condition", "passed", "actual_value", "expected_value", "reason"}


def test_failed_condition_is_named_in_the_summary(client, rule):
    data = post_json(
        client,
        f"/api/automations/{rule.pk}/test-conditions",
        {"context": {"product_count": 2, "store_status": "closed"}},
    ).json()
    assert data["conditions_met"] is False and data["would_execute"] is False
    assert data["summary"].startswith("1 of 2 conditions failed: ")
    assert data["results"][1]["passed"] is False
    assert data["results"][1]["reason"] and data["results"][1]["reason"] in data["summary"]


def test_disabled_rule_would_not_execute(client, rule):
    client.post(f"/api/automations/{rule.pk}/disable")
    data = post_json(
        client,
        f"/api/automations/{rule.pk}/test-conditions",
        {"context": {"product_count": 2, "store_status": "active"}},
    ).json()
    assert data["conditions_met"] is True and data["would_execute"] is False


def test_event_rule_without_conditions(client, tenant, owner):
    rule = make_rule(tenant, owner, trigger_type="event", trigger_config={"event_type": "product_added"}, conditions=[])
    data = post_json(client, f"/api/automations/{rule.pk}/test-conditions", {}).json()
    assert data["conditions_met"] is True and data["results"] == []
    assert data["summary"] == "No conditions to check"


def test_high_risk_rule_would_need_approval(client, tenant, owner):
    rule = make_rule(tenant, owner, risk_level="high")
    data = post_json(
        client,
        f"/api/automations/{rule.pk}/test-conditions",
        {"context": {"product_count": 1, "store_status": "active"}},
    ).json()
    assert data["would_need_approval"] is True
    assert "council" in data["approval_reason"]


@pytest.mark.parametrize("payload", [{"context": [1]}, {"context": "x"}, [1]])
def test_bad_context_is_400(client, rule, payload):
    response = post_json(client, f"/api/automations/{rule.pk}/test-conditions", payload)
    assert response.status_code == 400


def test_context_of_any_json_shape_never_500s(client, rule):
    for context in ({"product_count": "two"}, {"product_count": None}, {"store_status": {"a": [1, {"b": 2}]}}, {}):
        response = post_json(client, f"/api/automations/{rule.pk}/test-conditions", {"context": context})
        assert response.status_code == 200
        assert response.json()["conditions_met"] is False


def test_unsaved_rule_test_conditions(client):
    body = {"rule": {"tenant_id": "tenant_test", **LOW_PRODUCT_ALERT}, "context": {"product_count": 5}}
    data = post_json(client, "/api/automations/test-conditions", body).json()
    assert data["conditions_met"] is False
    assert data["summary"].startswith("2 of 2 conditions failed")
    assert AutomationRule.objects.count() == 0


def test_unsaved_rule_with_errors_is_400_with_paths(client):
    body = {"rule": {**LOW_PRODUCT_ALERT, "conditions": [{"type": "x", "operator": "??", "value": 1}]}, "context": {}}
    response = post_json(client, "/api/automations/test-conditions/", body)
    assert response.status_code == 400
    assert "conditions[0].operator" in response.json()


def test_summary_of_saved_rule(client, rule):
    data = client.get(f"/api/automations/{rule.pk}/summary").json()
    assert set(data) >= {"summary", "trigger_description", "conditions_description", "action_description"}
    assert "3" in data["trigger_description"]


def test_summary_of_unsaved_rule(client):
    response = post_json(client, "/api/automations/summary", {"tenant_id": "tenant_test", **LOW_PRODUCT_ALERT})
    assert response.status_code == 200
    assert response.json()["summary"]
    bad = post_json(client, "/api/automations/summary", {"trigger_type": "threshold"})
    assert bad.status_code == 400 and "action_type" in bad.json()


def test_recommend(client, tenant):
    context = {
        "product_count": 2,
        "store_performance": "good",
        "recent_campaigns": 0,
        "seasonal_context": "holiday_season",
    }
    response = post_json(client, "/api/automations/recommend", {"tenant_id": "tenant_test", "context": context})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == len(data["recommendations"]) > 0
    first = data["recommendations"][0]
    assert {"name", "description", "relevance_score", "reasoning", "suggested_config"} <= set(first)
    assert post_json(client, "/api/automations/recommend", {"context": "x"}).status_code == 400
