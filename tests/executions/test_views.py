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


def test_the_triggering_payload_is_ticked_when_adding_and_toggled_per_endpoint(owner_client, tenant):
    # given the form, ticked by default, and one endpoint added ticked and one unticked
    assert (
        'name="include_trigger_payload" value="true" checked'
        in owner_client.get("/portal/settings/webhooks").content.decode()
    )
    form = {"url": "https://hooks.example.com/with", "include_trigger_payload": "true"}
    assert owner_client.post("/portal/settings/webhooks/new", form).status_code == 200
    assert (
        owner_client.post("/portal/settings/webhooks/new", {"url": "https://hooks.example.com/bare"}).status_code == 200
    )
    with_payload = WebhookEndpoint.objects.get(url="https://hooks.example.com/with")
    bare = WebhookEndpoint.objects.get(url="https://hooks.example.com/bare")
    assert (with_payload.include_trigger_payload, bare.include_trigger_payload) == (True, False)
    html = owner_client.get("/portal/settings/webhooks").content.decode()
    assert html.count('data-trigger-payload="sent"') == 1 and html.count('data-trigger-payload="left out"') == 1

    # when the first one is switched off, then a nonsense value is posted
    url = f"/portal/settings/webhooks/{with_payload.pk}/trigger-payload"
    assert owner_client.post(url, {"include_trigger_payload": "false"}).status_code == 302
    refused = owner_client.post(url, {"include_trigger_payload": "maybe"})

    # then
    with_payload.refresh_from_db()
    assert with_payload.include_trigger_payload is False
    assert refused.status_code == 400 and "include_trigger_payload: Must be true or false." in refused.content.decode()


def test_another_tenants_endpoint_and_delivery_are_404(client, tenant, other_owner):
    created = endpoint_create(tenant, "https://hooks.example.com/d")
    client.force_login(other_owner)
    assert client.post(f"/portal/settings/webhooks/{created.endpoint.pk}/rotate").status_code == 404
    toggle = f"/portal/settings/webhooks/{created.endpoint.pk}/trigger-payload"
    assert client.post(toggle, {"include_trigger_payload": "false"}).status_code == 404
    created.endpoint.refresh_from_db()
    assert created.endpoint.include_trigger_payload is True
    assert client.post("/portal/settings/webhooks/deliveries/999/redeliver").status_code == 404
    assert "hooks.example.com/d" not in client.get("/portal/settings/webhooks").content.decode()


def test_the_endpoint_form_picks_the_action_type_it_receives_and_the_table_shows_it(owner_client, tenant):
    html = owner_client.get("/portal/settings/webhooks").content.decode()
    assert '<select id="f-action-type" name="action_type">' in html
    assert '<option value="add_product">' in html and '<option value="">All action types</option>' in html
    response = owner_client.post(
        "/portal/settings/webhooks/new", {"url": "https://hooks.example.com/p", "action_type": "add_product"}
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert endpoint.action_type == "add_product"
    owner_client.post("/portal/settings/webhooks/new", {"url": "https://hooks.example.com/all", "action_type": ""})
    every = WebhookEndpoint.objects.get(tenant=tenant, url="https://hooks.example.com/all")
    assert every.action_type is None
    html = owner_client.get("/portal/settings/webhooks").content.decode()
    assert f'<tr data-endpoint-id="{endpoint.pk}">' in html
    assert 'data-endpoint-action-type="add_product"><code>add_product</code>' in html
    assert 'data-endpoint-action-type="">all action types</td>' in html


def test_an_unknown_action_type_is_refused_beside_the_select(owner_client, tenant):
    response = owner_client.post(
        "/portal/settings/webhooks/new", {"url": "https://hooks.example.com/q", "action_type": "launch_rocket"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="f-action-type-error"' in html and "launch_rocket" in html
    assert not WebhookEndpoint.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("status_code", "error", "shown"),
    [
        (400, "HTTP 400", "HTTP 400"),
        (410, "HTTP 410 Gone: endpoint disabled", "HTTP 410 Gone: endpoint disabled"),
        (500, "connection reset", "HTTP 500: connection reset"),
        (None, "timed out after 10 s", "timed out after 10 s"),
        (204, "", "HTTP 204"),
    ],
)
def test_a_deliverys_last_result_names_the_status_once(status_code, error, shown):
    delivery = WebhookDelivery(last_status_code=status_code, last_error=error)
    assert delivery.last_result == shown


def test_last_result_on_the_page_reads_http_400_once(owner_client, tenant, rule):
    from executions.models import AutomationExecution

    created = endpoint_create(tenant, "https://hooks.example.com/r")
    execution = AutomationExecution(automation_rule=rule, tenant=tenant, trigger_source="manual")
    execution.set_status("failed")
    execution.save()
    WebhookDelivery.objects.create(
        tenant=tenant,
        execution=execution,
        endpoint=created.endpoint,
        webhook_id="msg_2",
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        last_status_code=400,
        last_error="HTTP 400",
    )
    html = owner_client.get("/portal/settings/webhooks").content.decode()
    assert '<td class="small" data-last-result>HTTP 400</td>' in html
    assert html.count("HTTP 400") == 1


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


# --- runs nothing received: recorded only ------------------------------------------------------

ADD_PRODUCT = {"action_type": "add_product", "action_config": {"template_id": "basic_tee", "count": 1}}


def test_a_recorded_only_run_is_grey_explained_and_linked_to_the_webhook_settings(owner_client, tenant, owner):
    from tests.factories import make_rule

    rule = make_rule(tenant, owner, name="Restock", **ADD_PRODUCT)
    # the rule's page warns before it happens
    html = owner_client.get(f"/portal/automations/{rule.pk}").content.decode()
    assert "data-only-recorded-warning" in html
    assert (
        "No endpoint receives <code>add_product</code> commands: this rule will only record what it would do." in html
    )
    assert 'href="/portal/settings/webhooks"' in html
    # Run now: a neutral message, not the green one
    response = owner_client.post(
        f"/portal/automations/{rule.pk}/run", {"sample_context": '{"store_status": "active", "product_count": 2}'}
    )
    execution = rule.executions.get()
    assert response.status_code == 302 and execution.outcome == "recorded_only"
    page = owner_client.get(response["Location"]).content.decode()
    assert f'<li class="warning">Execution #{execution.pk}: Recorded only (nothing received it).</li>' in page
    assert '<span class="badge slate" data-status="recorded_only">Recorded only (nothing received it)</span>' in page
    assert "emerald" not in page.split('<div class="page-header">')[1].split("</div>")[0]
    assert "data-recorded-only" in page and "nothing received this add_product command" in page
    assert 'href="/portal/settings/webhooks">Set up a webhook endpoint</a>' in page
    # the history and the stats count it apart
    detail = owner_client.get(f"/portal/automations/{rule.pk}").content.decode()
    assert f'<tr data-execution-id="{execution.pk}">' in detail and 'data-status="recorded_only"' in detail
    assert 'data-stat="success-rate">—<' in detail and "1 recorded only, not counted" in detail
    listing = owner_client.get("/portal/automations").content.decode()
    assert 'data-field="recorded-only">1 recorded only<' in listing


def test_with_an_endpoint_for_the_action_type_no_warning_shows(owner_client, tenant, owner):
    from tests.factories import make_rule

    rule = make_rule(tenant, owner, name="Restock", **ADD_PRODUCT)
    endpoint_create(tenant, "https://hooks.example.com/products", action_type="add_product")
    assert "data-only-recorded-warning" not in owner_client.get(f"/portal/automations/{rule.pk}").content.decode()
    # in-process kinds (send_notification) always do something: no warning either
    notify = make_rule(tenant, owner, name="Notify")
    assert "data-only-recorded-warning" not in owner_client.get(f"/portal/automations/{notify.pk}").content.decode()


def test_the_builder_summary_warns_when_nothing_receives_the_action(owner_client, tenant):
    from tests.automations.test_views import VALID_POST

    post = {
        **{k: v for k, v in VALID_POST.items() if not k.startswith("a_")},
        "action_type": "add_product",
        "a_add_product__template_id": "basic_tee",
    }
    html = owner_client.post("/portal/automations/builder/summary", post, HTTP_HX_REQUEST="true").content.decode()
    assert (
        "No endpoint receives <code>add_product</code> commands: this rule will only record what it would do." in html
    )
    endpoint_create(tenant, "https://hooks.example.com/all")  # every action type
    html = owner_client.post("/portal/automations/builder/summary", post, HTTP_HX_REQUEST="true").content.decode()
    assert "data-only-recorded-warning" not in html


def test_the_execution_page_lists_each_message_not_sent(owner_client, tenant, owner, collaborator, mailoutbox):
    from executions.services import execute_rule_manually
    from tests.factories import make_rule

    owner.email = "alice@shop.test"
    owner.save()
    rule = make_rule(
        tenant,
        owner,
        name="Tell everyone",
        action_config={"recipients": ["owner", "collaborators"], "message": "Low stock", "channels": ["email", "push"]},
    )
    execution = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    assert execution.outcome == "succeeded"  # the in-app notifications happened
    html = owner_client.get(f"/portal/automations/{rule.pk}/executions/{execution.pk}").content.decode()
    assert (
        '<tr data-channel="email" data-recipient="alice"><td>alice</td><td>email</td><td><span class="ok">✓ sent</span>'
        in html
    )
    bob = '<tr data-channel="email" data-recipient="bob"><td>bob</td><td>email</td>'
    assert bob + '<td><span class="badge slate">not sent: no address</span>' in html
    assert html.count("not sent: not configured") == 2
    assert len(mailoutbox) == 1
