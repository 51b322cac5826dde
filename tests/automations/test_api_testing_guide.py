"""The spec's Testing Guide §2 ("Test API Endpoints"), as a test, with a token from `api_token`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.api import post_json

pytestmark = pytest.mark.django_db


def test_testing_guide_section_2():
    # given: a token for an owner of tenant_test, as `python manage.py api_token` prints it
    out = StringIO()
    call_command("api_token", "alice", "--tenant", "tenant_test", "--role", "owner", stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")

    # Create automation
    created = post_json(
        client,
        "/api/automations",
        {
            "tenant_id": "tenant_test",
            "name": "Test Alert",
            "trigger_type": "threshold",
            "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
            "action_type": "send_notification",
            "action_config": {"recipients": ["owner"]},
        },
    )
    assert created.status_code == 201
    assert created.json()["message"] == "Automation rule created successfully"
    rule_id = created.json()["automation"]["id"]
    assert rule_id.startswith("automation_")

    # List automations
    listed = client.get("/api/automations?tenant_id=tenant_test").json()
    assert listed["count"] == 1 and listed["enabled_count"] == 1 and listed["disabled_count"] == 0
    assert listed["automations"][0]["id"] == rule_id

    # Test conditions
    tested = post_json(
        client,
        f"/api/automations/{rule_id}/test-conditions",
        {"context": {"product_count": 2, "store_status": "active"}},
    ).json()
    assert tested["conditions_met"] is True and tested["would_execute"] is True
    assert tested["summary"] == "The condition passed"
    assert tested["results"][0]["actual_value"] == 2 and tested["results"][0]["expected_value"] == 3

    # Execute automation
    executed = post_json(
        client, f"/api/automations/{rule_id}/execute", {"context": {"product_count": 2}, "trigger_source": "manual"}
    )
    assert executed.status_code == 200
    execution = executed.json()["execution"]
    assert execution["trigger_source"] == "manual"
    assert execution["status"] in {"succeeded", "failed", "retrying", "awaiting_approval", "skipped"}
    assert execution["status"] == "succeeded", execution

    # Get execution history
    history = client.get(f"/api/automations/{rule_id}/executions").json()
    assert history["count"] == 1 and history["executions"][0]["id"] == execution["id"]

    # Get plain English summary
    summary = client.get(f"/api/automations/{rule_id}/summary").json()
    assert set(summary) >= {"summary", "trigger_description", "conditions_description", "action_description"}
    assert "3" in summary["trigger_description"]
