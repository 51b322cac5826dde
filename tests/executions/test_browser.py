"""People pages in a real browser: webhook settings (and approvals once the pipeline is in)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from executions.delivery.models import WebhookEndpoint
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
