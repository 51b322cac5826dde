"""Admin for endpoints and deliveries: secret shown once, rotation, redelivery, tenant scoping."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from executions.choices import DeliveryStatus
from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.services import delivery_create, delivery_send_attempt, endpoint_create
from tests.executions.delivery.conftest import make_execution
from tests.executions.delivery.sink import Reply
from tests.factories import make_rule, make_user

ENDPOINTS = "admin:executions_webhookendpoint_changelist"
DELIVERIES = "admin:executions_webhookdelivery_changelist"


@pytest.fixture
def superuser_client(client, db):
    make_user("root", is_staff=True, is_superuser=True)
    client.login(username="root", password="pw-root")
    return client


@pytest.fixture
def staff_client(client, owner):
    """alice, owner of tenant_test, as staff with the delivery models' permissions."""
    owner.is_staff = True
    owner.save()
    codenames = [
        f"{verb}_{model}" for verb in ("view", "add", "change") for model in ("webhookendpoint", "webhookdelivery")
    ]
    owner.user_permissions.set(Permission.objects.filter(content_type__app_label="executions", codename__in=codenames))
    client.login(username="alice", password="pw-alice")
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_adding_an_endpoint_shows_its_secret_once(superuser_client, tenant):
    response = superuser_client.post(
        reverse("admin:executions_webhookendpoint_add"),
        {"tenant": tenant.pk, "url": "https://hooks.example.com/a", "action_type": "", "description": "x"},
        follow=True,
    )

    endpoint = WebhookEndpoint.objects.get()
    [shown] = [text for text in messages_of(response) if "whsec_" in text]
    assert endpoint.secret in shown and "will not be shown again" in shown
    change_page = superuser_client.get(reverse("admin:executions_webhookendpoint_change", args=[endpoint.pk]))
    assert change_page.status_code == 200
    assert endpoint.secret not in change_page.content.decode()
    assert "never shown again" in change_page.content.decode()


def test_the_admin_refuses_an_internal_url_on_the_field(superuser_client, tenant):
    response = superuser_client.post(
        reverse("admin:executions_webhookendpoint_add"),
        {"tenant": tenant.pk, "url": "http://[::ffff:127.0.0.1]/", "action_type": ""},
    )

    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_editing_an_endpoint_keeps_its_secret(superuser_client, tenant):
    created = endpoint_create(tenant, "https://hooks.example.com/a")

    superuser_client.post(
        reverse("admin:executions_webhookendpoint_change", args=[created.endpoint.pk]),
        {"tenant": tenant.pk, "url": "https://hooks.example.com/b", "action_type": "", "enabled": "on"},
    )

    created.endpoint.refresh_from_db()
    assert created.endpoint.url == "https://hooks.example.com/b"
    assert created.endpoint.secret == created.secret
    # "Send the triggering payload" was left unticked
    assert created.endpoint.include_trigger_payload is False


def test_an_endpoint_cannot_be_moved_to_another_tenant(superuser_client, tenant, other_tenant):
    endpoint = endpoint_create(tenant, "https://hooks.example.com/a").endpoint

    superuser_client.post(
        reverse("admin:executions_webhookendpoint_change", args=[endpoint.pk]),
        {"tenant": other_tenant.pk, "url": "https://hooks.example.com/a", "action_type": "", "enabled": "on"},
    )

    endpoint.refresh_from_db()
    assert endpoint.tenant_id == tenant.pk


def test_the_rotate_action_shows_the_new_secret_once_and_keeps_the_old_one_in_grace(superuser_client, tenant):
    created = endpoint_create(tenant, "https://hooks.example.com/a")

    response = superuser_client.post(
        reverse(ENDPOINTS), {"action": "rotate_secret", "_selected_action": [created.endpoint.pk]}, follow=True
    )

    created.endpoint.refresh_from_db()
    assert created.endpoint.secret != created.secret
    assert created.endpoint.previous_secret == created.secret
    assert any(created.endpoint.secret in text for text in messages_of(response))
    assert not any(created.secret in text for text in messages_of(response))


def test_a_tenant_member_sees_and_picks_only_their_tenants_endpoints(staff_client, tenant, other_tenant):
    mine = endpoint_create(tenant, "https://mine.example.com/").endpoint
    theirs = endpoint_create(other_tenant, "https://theirs.example.com/").endpoint

    listing = staff_client.get(reverse(ENDPOINTS)).content.decode()
    assert "mine.example.com" in listing and "theirs.example.com" not in listing
    other = staff_client.get(reverse("admin:executions_webhookendpoint_change", args=[theirs.pk]))
    assert other.status_code in (302, 404)
    assert staff_client.get(reverse("admin:executions_webhookendpoint_change", args=[mine.pk])).status_code == 200
    form = staff_client.get(reverse("admin:executions_webhookendpoint_add")).context["adminform"].form
    assert list(form.fields["tenant"].queryset) == [tenant]


def test_a_tenant_member_cannot_add_an_endpoint_to_another_tenant(staff_client, other_tenant):
    response = staff_client.post(
        reverse("admin:executions_webhookendpoint_add"),
        {"tenant": other_tenant.pk, "url": "https://x.example.com/", "action_type": ""},
    )

    assert "tenant" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_delivery_admin_lists_attempts_and_redelivers(superuser_client, rule, tenant, sink, loopback_allowed):
    endpoint = endpoint_create(tenant, sink.url()).endpoint
    delivery = delivery_create(make_execution(rule), endpoint, {"n": 1})
    sink.reply(Reply(status=418, body=b"teapot says no"))
    delivery_send_attempt(delivery.pk)

    page = superuser_client.get(reverse("admin:executions_webhookdelivery_change", args=[delivery.pk]))
    assert "teapot says no" in page.content.decode() and "418" in page.content.decode()

    response = superuser_client.post(
        reverse(DELIVERIES), {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True
    )

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert any("scheduled for redelivery" in text for text in messages_of(response))


def test_redelivering_a_delivery_that_has_not_failed_says_why(superuser_client, rule, tenant):
    endpoint = endpoint_create(tenant, "https://hooks.example.com/").endpoint
    delivery = delivery_create(make_execution(rule), endpoint, {"n": 1})

    response = superuser_client.post(
        reverse(DELIVERIES), {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True
    )

    assert any("Only a failed delivery" in text for text in messages_of(response))
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING


def test_a_tenant_member_sees_only_their_tenants_deliveries(staff_client, tenant, other_tenant, other_owner, rule):
    mine = endpoint_create(tenant, "https://mine.example.com/").endpoint
    theirs = endpoint_create(other_tenant, "https://theirs.example.com/").endpoint
    mine_delivery = delivery_create(make_execution(rule), mine, {"n": 1})
    their_rule = make_rule(other_tenant, other_owner)
    their_delivery = delivery_create(make_execution(their_rule), theirs, {"n": 2})

    listing = staff_client.get(reverse(DELIVERIES)).context["cl"].queryset

    assert list(listing) == [mine_delivery]
    assert their_delivery.pk not in [delivery.pk for delivery in listing]
