"""People pages in a real browser: webhook settings (and approvals once the pipeline is in)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from executions.delivery.models import WebhookEndpoint
from executions.models import MetricSample
from tests.browser import PHONE, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_webhook_secret_is_shown_once_and_rotates(page_for, owner, tenant):
    page = page_for(owner)
    page.goto("/portal/settings/webhooks")
    page.get_by_label("URL").fill("https://hooks.example.com/shop")
    page.get_by_label("Description").fill("Shop backend")
    page.get_by_role("button", name="Add endpoint").click()
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    expect(page.locator("[data-secret]")).to_have_text(endpoint.secret)
    screenshot(page, "webhooks-secret-once")
    page.goto("/portal/settings/webhooks")
    expect(page.locator("[data-secret]")).to_have_count(0)
    expect(page.locator(f"[data-endpoint-id='{endpoint.pk}']")).to_contain_text("hooks.example.com/shop")
    page.get_by_role("button", name="Rotate secret").click()
    endpoint.refresh_from_db()
    expect(page.locator("[data-secret]")).to_have_text(endpoint.secret)
    # the triggering event's payload: sent by default (the form's box was ticked), left out with one click
    payload = page.locator(f"[data-endpoint-id='{endpoint.pk}'] [data-trigger-payload]")
    expect(payload).to_have_attribute("data-trigger-payload", "sent")
    payload.get_by_role("button", name="Leave out").click()
    expect(page.locator("[role=status]").first).to_contain_text("no longer receives the triggering event's payload")
    expect(payload).to_have_attribute("data-trigger-payload", "left out")
    endpoint.refresh_from_db()
    assert endpoint.include_trigger_payload is False


def test_webhook_url_error_in_place_at_phone_width(page_for, owner, tenant):
    page = page_for(owner, viewport=PHONE)
    page.goto("/portal/settings/webhooks")
    page.get_by_label("URL").fill("ftp://example.com/x")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#f-url-error")).to_be_visible()
    assert page.get_by_label("URL").input_value() == "ftp://example.com/x"
    assert not WebhookEndpoint.objects.exists()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "webhooks-error-375")


def test_council_member_approves_in_the_browser(page_for, tenant, owner, council_member):
    from executions.services import execute_rule_manually
    from tests.factories import make_rule

    rule = make_rule(tenant, owner, name="Critical Alert", risk_level="critical")
    first = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    second = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    page = page_for(council_member)
    page.goto("/portal/automations")
    expect(page.get_by_role("link", name="Approvals 2")).to_be_visible()
    page.get_by_role("link", name="Approvals 2").click()
    cards = page.locator("[data-approval-id]")
    expect(cards).to_have_count(2)
    screenshot(page, "approvals-pending")
    # approve the first
    card = page.locator(f"[data-approval-id='{first.approval_request.pk}']")
    card.get_by_role("button", name="Approve Critical Alert").click()
    expect(page.locator(".messages")).to_contain_text(f"Approved “Critical Alert” (execution #{first.pk})")
    first.refresh_from_db()
    assert first.approval_request.status == "approved" and first.approval_request.decided_by == council_member
    assert first.status == "succeeded"  # the action ran after the decision was committed
    # reject the second with a reason
    card = page.locator(f"[data-approval-id='{second.approval_request.pk}']")
    card.get_by_label("Reason (optional)").fill("Not during the sale")
    card.get_by_role("button", name="Reject Critical Alert").click()
    expect(page.locator(".messages")).to_contain_text("Rejected")
    second.refresh_from_db()
    assert second.status == "rejected" and "Not during the sale" in second.error_message
    expect(page.locator("[data-empty]")).to_be_visible()
    screenshot(page, "approvals-decided")
    # the execution page shows who approved
    page.goto(f"/portal/automations/{rule.pk}/executions/{first.pk}")
    expect(page.locator("[data-approver]")).to_have_text("carol")
    expect(page.locator("[data-approval-status]")).to_have_text("Approved")
    screenshot(page, "execution-approved")


def test_webhook_endpoint_receives_one_action_type_and_a_400_reads_once(
    page_for, owner, tenant, sink, loopback_allowed
):
    from executions.services import execute_rule_manually
    from tests.executions.delivery.sink import Reply
    from tests.factories import make_rule

    page = page_for(owner)
    page.goto("/portal/settings/webhooks")
    page.get_by_label("URL").fill(sink.url())
    page.get_by_label("Receives").select_option("add_product")
    page.get_by_role("button", name="Add endpoint").click()
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert endpoint.action_type == "add_product"
    page.goto("/portal/settings/webhooks")
    expect(page.locator(f"[data-endpoint-id='{endpoint.pk}'] [data-endpoint-action-type]")).to_contain_text(
        "add_product"
    )
    # given an add_product run whose command the receiver refuses with 400
    sink.default = Reply(status=400, body=b"no")
    rule = make_rule(
        tenant,
        owner,
        name="Restock",
        action_type="add_product",
        action_config={"template_id": "basic_tee", "count": 1},
    )
    execution = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    assert execution.status == "failed" and len(sink.requests) == 1
    # then the deliveries table says "HTTP 400" once
    page.goto("/portal/settings/webhooks")
    row = page.locator("[data-delivery-id]").first
    expect(row.locator("[data-last-result]")).to_have_text("HTTP 400")
    assert row.inner_text().count("HTTP 400") == 1
    screenshot(page, "webhooks-action-type-and-last-result")


def test_a_run_nothing_received_reads_recorded_only_in_grey_with_warnings_before(page_for, owner, tenant):
    from tests.factories import make_rule

    rule = make_rule(
        tenant,
        owner,
        name="Restock",
        conditions=[],
        action_type="add_product",
        action_config={"template_id": "basic_tee", "count": 1},
    )
    # the shop's product count, which Run now's threshold check reads (no context is sent)
    MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=2)
    page = page_for(owner)
    # the builder warns as soon as add_product is chosen
    page.goto(f"/portal/automations/builder/{rule.pk}")
    warning = page.locator("#summary-panel [data-only-recorded-warning]")
    expect(warning).to_contain_text(
        "No endpoint receives add_product commands: this rule will only record what it would do."
    )
    page.get_by_label("Action Type").select_option("send_notification")
    expect(warning).to_have_count(0)
    # the rule's page warns, with a link to the webhook settings
    page.goto(f"/portal/automations/{rule.pk}")
    notice = page.locator("[data-only-recorded-warning]")
    expect(notice).to_contain_text("this rule will only record what it would do")
    expect(notice.get_by_role("link", name="Set up a webhook endpoint")).to_have_attribute(
        "href", "/portal/settings/webhooks"
    )
    screenshot(page, "rule-only-recorded-warning")
    # Run now: the execution page shows the outcome in grey, explained, never as a green success
    page.get_by_role("button", name="Run now").click()
    badge = page.locator(".page-header [data-status]")
    expect(badge).to_have_text("Recorded only (nothing received it)")
    emerald = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--emerald').trim()")
    slate = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--slate').trim()")
    colour = badge.evaluate("el => getComputedStyle(el).color")
    hex_to_rgb = lambda h: f"rgb({int(h[1:3], 16)}, {int(h[3:5], 16)}, {int(h[5:7], 16)})"  # noqa: E731
    assert colour == hex_to_rgb(slate) and colour != hex_to_rgb(emerald)
    message = page.locator(".messages li")
    expect(message).to_contain_text("Recorded only")
    assert message.evaluate("el => getComputedStyle(el).color") != hex_to_rgb(emerald)
    explained = page.locator("[data-recorded-only]")
    expect(explained).to_contain_text("nothing received this add_product command")
    explained.get_by_role("link", name="Set up a webhook endpoint").click()
    expect(page).to_have_url(f"{page.url.split('/portal/')[0]}/portal/settings/webhooks")
    screenshot(page, "webhooks-from-recorded-only")
