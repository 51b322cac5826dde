"""POST /api/events, GET /api/approvals, POST /api/executions/<id>/approve|reject: tokens and roles (docs/api.md)."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from executions.choices import ExecutionStatus
from executions.models import AutomationExecution, Event
from executions.services import emit_event
from tests.factories import make_user


def staff(user):
    """A client authenticated with the user's API token (no staff flag needed any more)."""
    from tests.api import token_client

    return token_client(user)


@pytest.fixture
def awaiting(tenant, risky_rule, active_store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        emit_event(tenant.pk, "product_added", {"product_id": "p"}, source="store")
    execution = AutomationExecution.objects.get()
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL
    return execution


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/events", "/api/events/"])
def test_post_one_event(tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks, path):
    body = {"tenant_id": tenant.pk, "event_type": "product_added", "source": "store", "payload": {"product_id": "p"}}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff(owner).post(path, body, format="json")

    assert response.status_code == 202, response.content
    [event] = response.json()["events"]
    assert set(event) == {"id", "idempotency_key", "duplicate"} and event["duplicate"] is False
    assert AutomationExecution.objects.get().event_id == event["id"]


@pytest.mark.django_db
def test_post_a_list_with_a_repeated_key(tenant, owner):
    body = [
        {"tenant_id": tenant.pk, "event_type": "product_added", "idempotency_key": "a"},
        {"tenant_id": tenant.pk, "event_type": "order_placed", "idempotency_key": "b"},
    ]
    client = staff(owner)
    first = client.post("/api/events", body, format="json").json()["events"]
    again = client.post("/api/events", body[:1], format="json").json()["events"]

    assert [e["duplicate"] for e in first] == [False, False]
    assert again == [{"id": first[0]["id"], "idempotency_key": "a", "duplicate": True}]
    assert Event.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"tenant_id": "tenant_test", "event_type": ""}, "[0].event_type"),
        ({"tenant_id": "tenant_test", "event_type": "x", "payload": "text"}, "[0].payload"),
        ([{"tenant_id": "tenant_test", "event_type": "x"}, "not an object"], "[1]"),
        ([], "events"),
    ],
)
def test_bad_events_get_400_naming_the_field_and_store_nothing(tenant, other_tenant, owner, body, key):
    response = staff(owner).post("/api/events", body, format="json")
    assert response.status_code == 400
    assert key in response.json()
    assert Event.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("tenant_id", ["tenant_other", "tenant_nowhere"])
def test_events_into_another_tenant_are_403(tenant, other_tenant, owner, tenant_id):
    body = [{"tenant_id": tenant.pk, "event_type": "x"}, {"tenant_id": tenant_id, "event_type": "x"}]
    response = staff(owner).post("/api/events", body, format="json")
    assert response.status_code == 403
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_malformed_json_is_a_400(owner):
    response = staff(owner).post("/api/events", "{not json", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.django_db
def test_the_endpoints_need_credentials_and_a_role(tenant, owner, awaiting):
    anonymous = APIClient()
    assert anonymous.post("/api/events", {"tenant_id": tenant.pk, "event_type": "x"}, format="json").status_code == 401
    assert anonymous.get("/api/approvals").status_code == 401
    assert anonymous.post(f"/api/executions/{awaiting.pk}/approve").status_code == 401
    viewer = staff(make_user("dave", tenant, "viewer"))
    assert viewer.post("/api/events", {"tenant_id": tenant.pk, "event_type": "x"}, format="json").status_code == 403
    assert viewer.get("/api/approvals").json() == {"approvals": [], "count": 0, "limit": None, "offset": 0}
    assert viewer.post(f"/api/executions/{awaiting.pk}/approve").status_code == 403
    assert Event.objects.count() == 1


@pytest.mark.django_db
def test_basic_auth_works(tenant, owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"alice:pw-alice").decode())
    response = client.post("/api/events", {"tenant_id": tenant.pk, "event_type": "x"}, format="json")
    assert response.status_code == 202


@pytest.mark.django_db
def test_approvals_lists_what_the_callers_councils_may_decide(tenant, owner, collaborator, council_member, awaiting):
    response = staff(council_member).get("/api/approvals/")
    body = response.json()
    assert response.status_code == 200 and body["count"] == 1
    [approval] = body["approvals"]
    assert approval["execution_id"] == awaiting.pk and approval["status"] == "pending"
    assert approval["rule_name"] == "Risky restock" and approval["risk_level"] == "high"
    assert approval["execution"]["status"] == "awaiting_approval"
    assert staff(collaborator).get("/api/approvals").json() == {"approvals": [], "count": 0, "limit": None, "offset": 0}


@pytest.mark.django_db
def test_approvals_page_with_limit_and_offset_keeping_the_total(
    tenant, risky_rule, active_store, council_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for number in range(3):
            emit_event(tenant.pk, "product_added", {"product_id": f"p{number}"}, source="store")
    client = staff(council_member)

    everything = client.get("/api/approvals").json()
    page = client.get("/api/approvals?limit=1&offset=1").json()

    assert (everything["count"], everything["limit"], everything["offset"]) == (3, None, 0)
    assert (page["count"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [approval["id"] for approval in page["approvals"]] == [everything["approvals"][1]["id"]]


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/"])
def test_approve_through_the_api_runs_the_action_once(
    council_member, awaiting, django_capture_on_commit_callbacks, suffix
):
    client = staff(council_member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/executions/{awaiting.pk}/approve{suffix}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"] and body["execution"]["id"] == awaiting.pk
    assert body["execution"]["approved_by_user_id"] == str(council_member.pk)

    again = client.post(f"/api/executions/{awaiting.pk}/approve")
    assert again.status_code == 409
    awaiting.refresh_from_db()
    assert awaiting.status == ExecutionStatus.SUCCEEDED and awaiting.action_attempts == 1


@pytest.mark.django_db
def test_reject_through_the_api(council_member, awaiting):
    response = staff(council_member).post(
        f"/api/executions/{awaiting.pk}/reject", {"reason": "too risky"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["execution"]["status"] == "rejected"
    assert "too risky" in response.json()["execution"]["error_message"]


@pytest.mark.django_db
def test_deciding_needs_the_council_and_the_tenant(tenant, collaborator, other_owner, awaiting):
    assert staff(collaborator).post(f"/api/executions/{awaiting.pk}/approve").status_code == 403
    assert staff(other_owner).post(f"/api/executions/{awaiting.pk}/approve").status_code == 404  # not their tenant
    assert staff(collaborator).post("/api/executions/999999/reject").status_code == 404
    awaiting.refresh_from_db()
    assert awaiting.status == ExecutionStatus.AWAITING_APPROVAL


@pytest.mark.django_db
def test_a_superuser_may_send_events_to_any_tenant(tenant, other_tenant):
    root = make_user("root", is_staff=True, is_superuser=True)
    client = staff(root)
    response = client.post("/api/events", {"tenant_id": other_tenant.pk, "event_type": "x"}, format="json")
    assert response.status_code == 202
