"""Every portal page fits a 375 px phone (docs/pages.md): no horizontal page scroll, nothing pushed
off-screen or clipped unless it sits in a box that scrolls on its own (a table's ``.table-wrap``), and
the key columns of each table can be reached and used. Checked in Chromium on data with long names,
long unbroken words and long ids, which is what pushes a page wide."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from executions.choices import NotificationKind
from executions.delivery.models import WebhookDelivery
from executions.delivery.services.endpoints import endpoint_create
from executions.demo.models import DemoCommand, DemoStore, DemoStoreItem
from executions.models import MetricSample, Notification
from executions.services import execute_rule_manually
from governance.services import membership_set
from tests.browser import PHONE, screenshot
from tests.factories import make_execution, make_rule, make_tenant, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG_WORD = "Restock_the_seasonal_holiday_collection_for_northern_hemisphere_flagship_stores"
LONG_NAME = f"{LONG_WORD} when the supplier's quarterly clearance catalogue lands overnight"
LONG_URL = "https://hooks.example-commerce-platform.com/api/v2/webhooks/automation-commands/" + "x" * 80

# Elements whose box leaves the viewport (or is clipped) without a scrolling box around them. The
# skip link and screen-reader-only text are off-screen on purpose.
OFFENDERS = """
() => {
  const limit = document.documentElement.clientWidth;
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".skip-link, .sr-only, dialog:not([open])")) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.left >= -0.5 && box.right <= limit + 0.5) continue;
    let parent = el.parentElement, scrolls = false;
    while (parent && parent !== document.body) {
      const overflow = getComputedStyle(parent).overflowX;
      if (overflow === "auto" || overflow === "scroll") { scrolls = true; break; }
      if (overflow === "hidden" || overflow === "clip") break;  // clipped: hidden from the user
      parent = parent.parentElement;
    }
    if (!scrolls) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "");
      const where = el.parentElement ? el.parentElement.tagName.toLowerCase() + "." + el.parentElement.className : "";
      found.push(`${name} in ${where} [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
  }
  return found.slice(0, 12);
}
"""


def assert_fits_phone(page: Any, where: str) -> None:
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    offenders = page.evaluate(OFFENDERS)
    screenshot(page, f"phone-{where}")
    assert width <= PHONE["width"], f"{where}: the page is {width} px wide; off-screen: {offenders}"
    assert offenders == [], f"{where}: off-screen or clipped: {offenders}"


def assert_reachable(page: Any, locator: Any, where: str) -> None:
    """The element can be scrolled into view (inside its table's box) and then lies within the screen."""
    expect(locator).to_be_visible()
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None, where
    assert box["x"] >= -0.5 and box["x"] + box["width"] <= PHONE["width"] + 0.5, f"{where}: {box}"


@pytest.fixture
def long_data(live_server):
    tenant = make_tenant("tenant_with_a_rather_long_identifier_for_testing", name="Northern" + "Hemisphere" * 6)
    owner = make_user("alexandra_montgomery_whitfield_of_the_northern_region", tenant, "owner")
    other = make_tenant("tenant_zz_second", name="Second shop with a long enough name to matter")
    membership_set(other, owner, "owner")  # two tenants: the header shows the tenant switcher
    rule = make_rule(
        tenant,
        owner,
        name=LONG_NAME,
        description=f"{LONG_WORD} {LONG_WORD}",
        conditions=[
            {"type": "store_status", "operator": "=", "value": "active"},
            {"type": "product_category", "operator": "in", "value": [LONG_WORD, "seasonal_" + "x" * 60]},
        ],
        action_config={"recipients": ["owner"], "message": LONG_WORD * 2},
        risk_level="critical",
    )
    context = {"store_status": "active", "product_count": 2, "product_category": LONG_WORD, "note": LONG_WORD * 3}
    awaiting = execute_rule_manually(rule, context, owner)
    for status in ("succeeded", "failed", "skipped", "rejected"):
        make_execution(rule, status, error_message=f"{LONG_WORD} {LONG_WORD}", trigger_data=context)
    # A refused delivery: its plain-English cause names the long URL (docs/failures.md).
    failed = make_execution(
        rule,
        "failed",
        error_message=f"webhook delivery failed: delivery 1: HTTP 400 {LONG_WORD * 3}",
        failure_kind="receiver_refused",
        trigger_data=context,
    )
    endpoint = endpoint_create(tenant, LONG_URL, description=LONG_WORD).endpoint
    WebhookDelivery.objects.create(
        tenant=tenant,
        execution=failed,
        endpoint=endpoint,
        action_type="send_notification",
        webhook_id="wh_" + "0123456789abcdef" * 4,
        status="failed",
        attempt_count=3,
        last_status_code=400,
        last_error=LONG_WORD * 2,
        next_attempt_at=None,
        completed_at=timezone.now(),
    )
    Notification.objects.create(
        tenant=tenant,
        user=owner,
        kind=NotificationKind.EXECUTION_FAILED,
        title=LONG_NAME,
        body=LONG_WORD * 2,
        execution=failed,
    )
    store = DemoStore.objects.create(tenant=tenant, settings={"banner": LONG_WORD})
    DemoStoreItem.objects.create(store=store, kind="product", key="prod_" + "9" * 40, name=LONG_NAME)
    DemoCommand.objects.create(
        store=store,
        webhook_id="execution_" + "9" * 30,
        command="landing_page.create",
        outcome="applied",
        result=LONG_WORD,
    )
    MetricSample.objects.bulk_create(
        MetricSample(tenant=tenant, metric="product_count", value_number=value) for value in (4, 3, 2, 5)
    )
    return {"tenant": tenant, "owner": owner, "rule": rule, "awaiting": awaiting, "failed": failed}


def test_every_portal_page_fits_a_phone(page_for, long_data):
    rule, owner = long_data["rule"], long_data["owner"]
    page = page_for(owner, viewport=PHONE)
    pages = {
        "list": "/portal/automations",
        "recommendations": "/portal/automations/recommendations",
        "builder-new": "/portal/automations/builder/new",
        "builder-edit": f"/portal/automations/builder/{rule.pk}",
        "delete-confirm": f"/portal/automations/builder/{rule.pk}/delete",
        "details": f"/portal/automations/{rule.pk}",
        "execution-awaiting": f"/portal/automations/{rule.pk}/executions/{long_data['awaiting'].pk}",
        "execution-failed": f"/portal/automations/{rule.pk}/executions/{long_data['failed'].pk}",
        "approvals": "/portal/approvals",
        "notifications": "/portal/notifications",
        "webhooks": "/portal/settings/webhooks",
        "dashboard": "/portal/dashboard",
        "activity": "/portal/activity",
        "activity-bad-filter": "/portal/activity?status=maybe",
        "demo-store": "/portal/demo-store",
    }
    problems = []
    for where, url in pages.items():
        response = page.goto(url)
        assert response.status == (400 if where.endswith("bad-filter") else 200), url
        try:
            assert_fits_phone(page, where)
        except AssertionError as error:
            problems.append(str(error).splitlines()[0])
    assert problems == []


def test_details_history_columns_are_reachable_on_a_phone(page_for, long_data):
    rule = long_data["rule"]
    page = page_for(long_data["owner"], viewport=PHONE)
    page.goto(f"/portal/automations/{rule.pk}")
    assert_fits_phone(page, "details-history")
    table = page.locator("#execution-history table")
    for column in ("Triggered At", "Status", "Time"):
        assert_reachable(page, table.get_by_role("columnheader", name=column), f"history column {column}")
    row = table.locator(f"tr[data-execution-id='{long_data['failed'].pk}']")
    assert_reachable(page, row.locator(".badge").last, "the failed row's status")
    view = row.get_by_role("link", name=f"View execution {long_data['failed'].pk}")
    assert_reachable(page, view, "the failed row's View link")
    view.click()
    page.wait_for_url(f"**/executions/{long_data['failed'].pk}")
    assert_fits_phone(page, "details-history-view")


def test_webhook_and_approval_tables_are_usable_on_a_phone(page_for, long_data):
    page = page_for(long_data["owner"], viewport=PHONE)
    page.goto("/portal/settings/webhooks")
    assert_fits_phone(page, "webhooks-tables")
    assert_reachable(page, page.get_by_role("button", name="Redeliver").first, "Redeliver")
    assert_reachable(page, page.get_by_role("button", name="Rotate secret").first, "Rotate secret")
    page.goto("/portal/approvals")
    card = page.locator(f"[data-approval-id='{long_data['awaiting'].approval_request.pk}']")
    assert_reachable(page, card.get_by_role("button", name=f"Approve {LONG_NAME}"), "Approve")
    assert_reachable(page, card.get_by_role("button", name=f"Reject {LONG_NAME}"), "Reject")


def test_builder_with_test_results_and_recommendations_fit_a_phone(page_for, long_data):
    rule = long_data["rule"]
    page = page_for(long_data["owner"], viewport=PHONE)
    page.goto(f"/portal/automations/builder/{rule.pk}")
    page.locator("#f-sample_context").fill(
        '{"store_status": "active", "product_category": "' + LONG_WORD + '", "product_count": 2}'
    )
    page.get_by_role("button", name="Test Conditions").click()
    expect(page.locator("[data-condition-result='0']")).to_be_visible()
    assert_fits_phone(page, "builder-tested")
    page.goto("/portal/automations")
    page.get_by_role("button", name="Recommendations").first.click()
    expect(page.locator("dialog[open]")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert_fits_phone(page, "list-recommendations")


def test_signed_out_pages_fit_a_phone(page_for, long_data):
    page = page_for(viewport=PHONE)
    page.goto("/accounts/login/")
    assert_fits_phone(page, "login")
    page.get_by_label("Username").fill(long_data["owner"].username)
    page.get_by_label("Password").fill("wrong" * 20)
    page.get_by_role("button", name="Log in").click()
    assert_fits_phone(page, "login-error")
    page.get_by_label("Password").fill("pw-" + long_data["owner"].username)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portal/dashboard")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state("networkidle")
    assert_fits_phone(page, "logged-out")


def test_error_states_fit_a_phone(page_for, long_data):
    rule = long_data["rule"]
    page = page_for(long_data["owner"], viewport=PHONE)
    # the builder refusing a rule: the error summary and the messages beside their inputs
    page.goto(f"/portal/automations/builder/{rule.pk}")
    page.get_by_label("Name", exact=True).fill("")
    page.locator("#cond-1-value").fill("x" * 300)
    page.locator("#save-automation").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_fits_phone(page, "builder-errors")
    # Run now with a sample context that is not JSON: the run-refused page (a page of its own, 400)
    page.goto(f"/portal/automations/{rule.pk}")
    page.evaluate(
        """() => { const form = document.querySelector("#run-button").form;
        const input = document.createElement("input"); input.type = "hidden"; input.name = "sample_context";
        input.value = "{not json " + "x".repeat(200); form.appendChild(input); }"""
    )
    with page.expect_navigation():
        page.locator("#run-button").click()
    expect(page.locator("#refused-title")).to_be_visible()
    assert_fits_phone(page, "run-refused")
