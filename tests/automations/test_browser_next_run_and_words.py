"""Issue 15 items 6 and 10 in a real browser: a schedule's next run on the list and details pages, the styled
404 page, the favicon (loaded under the CSP) and the words of a manual run."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from automations.models import AutomationRule
from tests.browser import screenshot
from tests.config.test_csp import RECORD_VIOLATIONS
from tests.factories import make_rule

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WEEKLY_NY = {"pattern": "weekly", "day": "monday", "time": "09:00", "timezone": "America/New_York"}
# The app's dark background (static/css/app.css --bg): the page wears the portal's stylesheet.
PORTAL_BACKGROUND = "rgb(11, 17, 32)"


def test_next_run_shows_on_the_list_and_details(page_for, owner, tenant):
    rule = make_rule(tenant, owner, name="Monday Report", trigger_type="schedule", trigger_config=WEEKLY_NY)
    make_rule(tenant, owner, name="Low stock")  # a threshold rule: no next run
    # The stored slot as Monday 8 December 2025, 09:00 in New York (14:00 UTC).
    AutomationRule.objects.filter(pk=rule.pk).update(next_run_at=dt.datetime(2025, 12, 8, 14, 0, tzinfo=dt.UTC))
    year = "" if dt.datetime.now(dt.UTC).year == 2025 else " 2025"
    expected = f"Next run: Mon 8 Dec{year}, 09:00 (America/New_York)"
    page = page_for(owner)

    page.goto("/portal/automations")
    card = page.locator(f'[data-rule-id="{rule.pk}"]')
    expect(card.locator('[data-field="next-run"]')).to_have_text(expected)
    expect(page.locator('[data-field="next-run"]')).to_have_count(1)
    screenshot(page, "issue15-list-next-run")

    card.get_by_role("link", name="Monday Report", exact=True).click()
    page.wait_for_url(re.compile(rf"/portal/automations/{rule.pk}$"))
    next_run = page.locator('[data-field="next-run"]')
    expect(next_run).to_have_text(expected)
    assert next_run.locator("time").get_attribute("datetime").startswith("2025-12-08T14:00:00")
    # Disabled from the details page: no next run any more.
    page.locator("#disable-button").click()
    expect(page.locator('[data-field="next-run"]')).to_have_text("Next run: none while disabled")
    screenshot(page, "issue15-details-next-run")


def test_a_missing_rule_is_the_styled_404_with_the_favicon(page_for, owner, tenant, rule):
    page = page_for(owner)
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto("/portal/automations/automation_doesnotexist")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to automations")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()  # the portal's header, logged in
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == PORTAL_BACKGROUND
    assert "URLconf" not in page.content()
    screenshot(page, "issue15-404")

    # The favicon: linked, served by the app, and loaded as an image under the page's CSP.
    href = page.locator('link[rel="icon"]').get_attribute("href")
    assert href == "/favicon.ico"
    loaded = page.evaluate(
        """(href) => new Promise((resolve) => {
            const image = new Image();
            image.onload = () => resolve([image.naturalWidth > 0, image.src]);
            image.onerror = () => resolve([false, image.src]);
            image.src = href;
        })""",
        href,
    )
    assert loaded[0] is True, loaded
    answer = page.request.get(href)
    assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"
    assert page.evaluate("window.__cspViolations") == []

    page.get_by_role("link", name="Back to automations").click()
    page.wait_for_url(re.compile(r"/portal/automations$"))


def test_run_now_and_history_speak_plainly(page_for, owner, tenant):
    # An event rule without conditions: Run now (with no sample context) runs its action.
    event = {"event_type": "product_added"}
    rule = make_rule(tenant, owner, name="On product", trigger_type="event", trigger_config=event, conditions=[])
    page = page_for(owner)
    page.goto(f"/portal/automations/{rule.pk}")
    page.locator("#run-button").click()
    page.wait_for_url(re.compile(rf"/portal/automations/{rule.pk}/executions/\d+$"))
    execution_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".messages")).to_have_text(f"Execution #{execution_id} succeeded.")
    page.goto(f"/portal/automations/{rule.pk}")
    expect(page.locator("#execution-history")).to_contain_text("· 1 execution")
    assert "1 executions" not in page.locator("#execution-history").inner_text()
    screenshot(page, "issue15-run-words")
