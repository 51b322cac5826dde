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


# --- approvals and notifications ---------------------------------------------------------------

ACTIVE = {"store_status": "active", "product_count": 2}


@pytest.fixture
def awaiting(tenant, owner, council_member):
    """An execution of a critical rule, waiting for the default council (alice and carol sit on it)."""
    from executions.services import execute_rule_manually
    from tests.factories import make_rule

    rule = make_rule(tenant, owner, name="Critical Alert", risk_level="critical")
    execution = execute_rule_manually(rule, ACTIVE, owner)
    assert execution.status == "awaiting_approval"
    return execution


def test_council_member_sees_and_approves(client, council_member, awaiting):
    client.force_login(council_member)
    html = client.get("/portal/approvals").content.decode()
    approval = awaiting.approval_request
    assert f'data-approval-id="{approval.pk}"' in html and "Critical Alert" in html
    assert 'Approvals <span class="badge gold">1</span>' in html
    response = client.post(f"/portal/approvals/{approval.pk}/approve")
    assert response.status_code == 302
    awaiting.refresh_from_db()
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.decided_by == council_member
    assert awaiting.status in ("approved", "running", "succeeded")
    assert awaiting.approved_by_user_id == str(council_member.pk)
    # a second decision changes nothing and says so
    again = client.post(f"/portal/approvals/{approval.pk}/reject", follow=True)
    assert "Nothing changed" in again.content.decode()
    approval.refresh_from_db()
    assert approval.status == "approved"


def test_reject_with_reason_tells_the_owner(
    client, owner, council_member, awaiting, django_capture_on_commit_callbacks
):
    client.force_login(council_member)
    approval = awaiting.approval_request
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/portal/approvals/{approval.pk}/reject", {"reason": "not now"})
    awaiting.refresh_from_db()
    assert awaiting.status == "rejected" and "not now" in awaiting.error_message
    client.force_login(owner)
    inbox = client.get("/portal/notifications").content.decode()
    assert "was rejected" in inbox and 'data-read="false"' in inbox
    client.post("/portal/notifications/read")
    assert 'data-read="false"' not in client.get("/portal/notifications").content.decode()


def test_execution_page_shows_the_decision_and_approver(client, owner, council_member, awaiting):
    from executions.services import execution_approve

    execution_approve(awaiting, council_member)
    client.force_login(owner)
    url = f"/portal/automations/{awaiting.automation_rule_id}/executions/{awaiting.pk}"
    html = client.get(url).content.decode()
    assert "<dd data-decision>needs approval</dd>" in html
    assert "<dd data-approver>carol</dd>" in html
    assert "<dd data-approval-status>Approved</dd>" in html


def test_only_council_members_can_decide(client, collaborator, awaiting):
    client.force_login(collaborator)
    approval = awaiting.approval_request
    assert f'data-approval-id="{approval.pk}"' not in client.get("/portal/approvals").content.decode()
    assert client.post(f"/portal/approvals/{approval.pk}/approve").status_code == 404
    awaiting.refresh_from_db()
    assert awaiting.status == "awaiting_approval"


def test_another_tenants_approval_is_404(client, other_owner, awaiting):
    client.force_login(other_owner)
    assert client.post(f"/portal/approvals/{awaiting.approval_request.pk}/approve").status_code == 404
    assert client.post(f"/portal/approvals/{awaiting.approval_request.pk}/explode").status_code == 404


def test_approval_and_read_forms_need_csrf(council_member, awaiting):
    client = Client(enforce_csrf_checks=True)
    client.force_login(council_member)
    assert client.post(f"/portal/approvals/{awaiting.approval_request.pk}/approve").status_code == 403
    assert client.post("/portal/notifications/read").status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.status == "awaiting_approval"


def test_run_now_from_the_details_page(client, owner, rule):
    client.force_login(owner)
    response = client.post(
        f"/portal/automations/{rule.pk}/run", {"sample_context": '{"store_status": "active", "product_count": 2}'}
    )
    execution = rule.executions.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/automations/{rule.pk}/executions/{execution.pk}"
    assert execution.trigger_source == "manual" and execution.conditions_met is True
    html = client.get(response["Location"]).content.decode()
    assert "auto-approved" in html
    assert "<code>store_status = &quot;active&quot;</code>" in html
    assert "<code data-actual>&quot;active&quot;</code>" in html


@pytest.mark.parametrize("label", ["event", "scheduler"])
def test_run_now_is_always_manual_and_shows_who_ran_it(client, owner, rule, label):
    client.force_login(owner)
    sample = f'{{"store_status": "active", "trigger_source": "{label}"}}'
    response = client.post(f"/portal/automations/{rule.pk}/run", {"sample_context": sample, "trigger_source": label})
    execution = rule.executions.get()
    assert execution.trigger_source == "manual"
    assert execution.triggered_by_id == owner.pk
    html = client.get(response["Location"]).content.decode()
    assert "<dd data-triggered-by>alice</dd>" in html
