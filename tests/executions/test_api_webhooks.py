"""/api/webhook-endpoints: owners manage their tenant's endpoints; secrets shown only on create and rotate."""

from __future__ import annotations

import pytest

from executions.delivery.models import WebhookEndpoint
from executions.delivery.services.endpoints import endpoint_create
from tests.api import patch_json, post_json, token_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/automations"


@pytest.fixture
def endpoint(tenant):
    return endpoint_create(tenant, URL).endpoint


def test_owner_creates_and_sees_the_secret_once(owner):
    client = token_client(owner)
    response = post_json(client, "/api/webhook-endpoints", {"url": URL, "action_type": "start_workflow"})
    assert response.status_code == 201
    data = response.json()
    stored = WebhookEndpoint.objects.get(pk=data["webhook_endpoint"]["id"])
    assert data["secret"] == stored.secret and stored.tenant_id == "tenant_test"
    assert data["webhook_endpoint"]["include_trigger_payload"] is True
    listed = client.get("/api/webhook-endpoints").json()
    assert listed["count"] == 1
    assert stored.secret not in str(listed)
    single = client.get(f"/api/webhook-endpoints/{stored.pk}").json()
    assert "secret" not in single["webhook_endpoint"] and stored.secret not in str(single)


def test_rotate_secret(owner, endpoint):
    old = endpoint.secret
    response = token_client(owner).post(f"/api/webhook-endpoints/{endpoint.pk}/rotate-secret")
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert response.json()["secret"] == endpoint.secret != old


def test_update_and_disable(owner, endpoint):
    response = patch_json(token_client(owner), f"/api/webhook-endpoints/{endpoint.pk}", {"enabled": False})
    assert response.status_code == 200
    assert response.json()["webhook_endpoint"]["enabled"] is False


def test_an_endpoint_can_leave_the_triggering_payload_out(owner, endpoint):
    client = token_client(owner)
    url = f"/api/webhook-endpoints/{endpoint.pk}"

    refused = patch_json(client, url, {"include_trigger_payload": "false"})
    assert refused.status_code == 400
    assert refused.json()["include_trigger_payload"] == ["Must be true or false."]

    response = patch_json(client, url, {"include_trigger_payload": False})
    assert response.status_code == 200
    assert response.json()["webhook_endpoint"]["include_trigger_payload"] is False
    endpoint.refresh_from_db()
    assert endpoint.include_trigger_payload is False


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://169.254.169.254/latest"}, "url"),
        ({"url": "http://127.0.0.1:8000/"}, "url"),
        ({"url": "http://[fec0::1]/hook"}, "url"),
        ({"url": "https://[64:ff9b:1::808:808]/hook"}, "url"),
        ({"url": 5}, "url"),
        ({}, "url"),
        ({"url": URL, "action_type": "nope"}, "action_type"),
        ({"url": URL, "enabled": "yes"}, "enabled"),
        ({"url": URL, "include_trigger_payload": 1}, "include_trigger_payload"),
        ({"url": URL, "secret": "mine"}, "secret"),
    ],
)
def test_bad_endpoint_is_400(owner, body, field):
    response = post_json(token_client(owner), "/api/webhook-endpoints", body)
    assert response.status_code == 400
    assert field in response.json()
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("role", ["collaborator", "council", "viewer"])
def test_only_owners_manage_endpoints(tenant, endpoint, role):
    user = make_user(f"user_{role}", tenant, role)
    client = token_client(user)
    assert client.get("/api/webhook-endpoints").json()["count"] == 1
    assert client.get(f"/api/webhook-endpoints/{endpoint.pk}").status_code == 200
    assert post_json(client, "/api/webhook-endpoints", {"url": URL}).status_code == 403
    assert patch_json(client, f"/api/webhook-endpoints/{endpoint.pk}", {"enabled": False}).status_code == 403
    assert client.post(f"/api/webhook-endpoints/{endpoint.pk}/rotate-secret").status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_other_tenant_sees_nothing(endpoint, other_owner):
    client = token_client(other_owner)
    assert client.get("/api/webhook-endpoints").json()["count"] == 0
    assert client.get("/api/webhook-endpoints?tenant_id=tenant_test").json()["count"] == 0
    for call in (
        lambda: client.get(f"/api/webhook-endpoints/{endpoint.pk}"),
        lambda: patch_json(client, f"/api/webhook-endpoints/{endpoint.pk}", {"enabled": False}),
        lambda: client.post(f"/api/webhook-endpoints/{endpoint.pk}/rotate-secret"),
    ):
        assert call().status_code == 404
    response = post_json(client, "/api/webhook-endpoints", {"tenant_id": "tenant_test", "url": URL})
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_list_pages_with_limit_and_offset_keeping_the_total(owner, tenant):
    ids = [endpoint_create(tenant, f"{URL}/{number}").endpoint.pk for number in range(3)]
    client = token_client(owner)

    everything = client.get("/api/webhook-endpoints").json()
    page = client.get("/api/webhook-endpoints?limit=1&offset=1").json()
    clamped = client.get("/api/webhook-endpoints?limit=99999").json()

    assert [endpoint["id"] for endpoint in everything["webhook_endpoints"]] == ids
    assert (everything["count"], everything["limit"], everything["offset"]) == (3, None, 0)
    assert [endpoint["id"] for endpoint in page["webhook_endpoints"]] == [ids[1]]
    assert (page["count"], page["limit"], page["offset"]) == (3, 1, 1)
    assert clamped["limit"] == 1000 and clamped["count"] == 3
