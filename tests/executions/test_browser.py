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
