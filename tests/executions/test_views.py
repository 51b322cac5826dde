"""The people pages through Django's test client: webhook settings (secret once, rotate, redeliver)."""

from __future__ import annotations

import pytest
from django.test import Client

from executions.choices import DeliveryStatus
from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.services import endpoint_create


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


def test_webhook_settings_render_and_add_an_endpoint_showing_the_secret_once(owner_client, tenant):
    assert owner_client.get("/portal/settings/webhooks").status_code == 200
    response = owner_client.post(
        "/portal/settings/webhooks/new", {"url": "https://hooks.example.com/a", "description": "shop"}
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    html = response.content.decode()
    assert endpoint.secret in html and "shown only once" in html
    again = owner_client.get("/portal/settings/webhooks").content.decode()
    assert endpoint.secret not in again and "hooks.example.com/a" in again


def test_a_bad_url_is_shown_beside_the_field_and_kept(owner_client, tenant):
    response = owner_client.post("/portal/settings/webhooks/new", {"url": "ftp://nope", "description": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="f-url-error"' in html and 'value="ftp://nope"' in html
    assert not WebhookEndpoint.objects.filter(tenant=tenant).exists()


def test_rotate_shows_the_new_secret(owner_client, tenant):
    created = endpoint_create(tenant, "https://hooks.example.com/b")
    response = owner_client.post(f"/portal/settings/webhooks/{created.endpoint.pk}/rotate")
    created.endpoint.refresh_from_db()
    assert created.endpoint.secret != created.secret
    assert created.endpoint.secret in response.content.decode()


def test_redeliver_a_failed_delivery(owner_client, tenant, rule):
    from executions.models import AutomationExecution

    created = endpoint_create(tenant, "https://hooks.example.com/c")
    execution = AutomationExecution(automation_rule=rule, tenant=tenant, trigger_source="manual")
    execution.set_status("failed")
    execution.save()
    delivery = WebhookDelivery.objects.create(
        tenant=tenant,
        execution=execution,
        endpoint=created.endpoint,
        webhook_id="msg_1",
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
    )
    html = owner_client.get("/portal/settings/webhooks").content.decode()
    assert f'data-delivery-id="{delivery.pk}"' in html and "Redeliver" in html
    response = owner_client.post(f"/portal/settings/webhooks/deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING


def test_another_tenants_endpoint_and_delivery_are_404(client, tenant, other_owner):
    created = endpoint_create(tenant, "https://hooks.example.com/d")
    client.force_login(other_owner)
    assert client.post(f"/portal/settings/webhooks/{created.endpoint.pk}/rotate").status_code == 404
    assert client.post("/portal/settings/webhooks/deliveries/999/redeliver").status_code == 404
    assert "hooks.example.com/d" not in client.get("/portal/settings/webhooks").content.decode()


def test_webhook_forms_need_csrf(owner, tenant):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/portal/settings/webhooks/new", {"url": "https://hooks.example.com/e"}).status_code == 403
    assert not WebhookEndpoint.objects.exists()
