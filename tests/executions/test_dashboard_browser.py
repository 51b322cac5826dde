"""The dashboard in real Chromium: at 1280 px and on a 375 px phone nothing overflows sideways (long rule
names and endpoint URLs included), the charts are drawn, and the period switch refreshes the figures in
place by htmx, with the address following."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from executions.delivery.models import DeliveryDailyRollup
from executions.delivery.services.endpoints import endpoint_create
from tests.browser import PHONE
from tests.config.test_phone_layout import LONG_NAME, LONG_URL, LONG_WORD, assert_fits_phone
from tests.factories import make_execution, make_rule, make_tenant, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 900}


@pytest.fixture
def busy_tenant(live_server):
    tenant = make_tenant("tenant_dashboard", name="Dashboard shop")
    owner = make_user("dana", tenant, "owner")
    now = timezone.now()
    for index in range(6):
        rule = make_rule(tenant, owner, name=f"{LONG_NAME} {index}", description=LONG_WORD)
        for days_ago in range(0, 20, index + 1):
            make_execution(rule, "succeeded", triggered_at=now - dt.timedelta(days=days_ago, minutes=5))
            make_execution(
                rule, "failed", triggered_at=now - dt.timedelta(days=days_ago, minutes=6), failure_kind="receiver_down"
            )
        make_execution(rule, "skipped", triggered_at=now - dt.timedelta(days=40))
    endpoint = endpoint_create(tenant, LONG_URL, description=LONG_WORD).endpoint
    DeliveryDailyRollup.objects.create(
        tenant=tenant,
        endpoint=endpoint,
        day=now.date(),
        deliveries_succeeded=3,
        deliveries_failed=2,
        attempts=6,
        attempts_under_250ms=6,
    )
    return owner


def assert_fits(page, width: int, where: str) -> None:
    page.wait_for_load_state("networkidle")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{where}: the page is {scroll_width} px wide at {width} px"


def test_the_dashboard_fits_a_laptop_and_switches_period_in_place(page_for, busy_tenant):
    page = page_for(busy_tenant, viewport=LAPTOP)
    page.goto("/portal/dashboard")
    expect(page.locator("[data-chart='executions-chart'] g.day")).to_have_count(30)
    expect(page.locator("[data-active-rules] svg.sparkline")).to_have_count(5)
    expect(page.locator("[data-endpoints] [data-failing]")).to_have_count(1)
    assert_fits(page, LAPTOP["width"], "dashboard-1280")
    page.locator("label[for='days-90']").click()
    expect(page.locator("[data-dashboard]")).to_have_attribute("data-days", "90")
    expect(page.locator("[data-chart='executions-chart'] g.day")).to_have_count(90)
    assert page.url.endswith("days=90&category=") or "days=90" in page.url
    assert_fits(page, LAPTOP["width"], "dashboard-1280-90-days")


def test_the_dashboard_fits_a_phone(page_for, busy_tenant):
    page = page_for(busy_tenant, viewport=PHONE)
    for url, where in (
        ("/portal/dashboard", "dashboard"),
        ("/portal/dashboard?days=90", "dashboard-90-days"),
        ("/portal/dashboard?days=5", "dashboard-bad-days"),
    ):
        response = page.goto(url)
        assert response.status == (400 if where.endswith("bad-days") else 200), url
        assert_fits_phone(page, where)
    page.goto("/portal/dashboard")
    page.get_by_label("Category", exact=True).select_option("marketing")
    expect(page.locator("[data-dashboard]")).to_have_attribute("data-category", "marketing")
    assert_fits_phone(page, "dashboard-empty-category")
