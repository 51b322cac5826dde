"""The three automation pages in a real browser (Testing Guide §4). Each test checks the page and the
database and saves a screenshot under screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from automations.models import AutomationRule
from executions.choices import ENDED_STATUSES, ExecutionStatus, TriggerSource
from executions.models import AutomationExecution
from executions.rollups import rollups_add_executions
from tests.browser import PHONE, screenshot
from tests.factories import make_rule

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def make_execution(rule, status=ExecutionStatus.SUCCEEDED, **fields):
    execution = AutomationExecution(
        automation_rule=rule, tenant=rule.tenant, trigger_source=TriggerSource.EVENT, **fields
    )
    execution.set_status(status)
    execution.save()
    if status in ENDED_STATUSES:  # in its daily roll-up, as the pipeline does when a run ends
        rollups_add_executions([execution])
    return execution


def test_login_form_leads_to_the_list(page_for, owner, rule):
    page = page_for()
    page.goto("/portal/automations")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/portal/automations$"))
    assert page.get_by_role("heading", name="Automation Rules").is_visible()
    screenshot(page, "login-to-list")


def test_builder_guide_steps_create_a_threshold_rule(page_for, owner, tenant):
    page = page_for(owner)
    # Navigate to /portal/automations/builder/new
    page.goto("/portal/automations/builder/new")
    # 1. Fill in automation details
    page.get_by_label("Name", exact=True).fill("Low Product Alert")
    page.get_by_label("Description", exact=True).fill("Alert when product count drops below 3")
    page.get_by_label("Category", exact=True).select_option("product")
    # 2. Select trigger type (threshold): the tab shows the threshold fields only
    page.locator("label[for=trigger-threshold]").click()
    assert page.locator("[data-panel=threshold]").is_visible()
    assert not page.locator("[data-panel=schedule]").is_visible()
    page.get_by_label("Metric").fill("product_count")
    page.locator("#f-t_operator").select_option("<")
    page.locator("#f-t_value").fill("3")
    # 3. Add condition (store_status = active)
    page.get_by_role("button", name="Add Condition").click()
    page.locator("#cond-0-type").fill("store_status")
    page.locator("#cond-0-operator").select_option("=")
    page.locator("#cond-0-value").fill("active")
    # 4. Select action (send_notification)
    page.get_by_label("Action Type").select_option("send_notification")
    assert page.locator("[data-panel=send_notification]").is_visible()
    page.locator("[data-panel=send_notification] input[value=owner]").check()
    page.locator("#f-a_send_notification__message").fill("Low product count")
    # 5. Verify plain English summary updates
    expect(page.locator("[data-summary]")).to_have_text(
        "When product count drops below 3 in an active store, "
        "send a notification to the owner saying 'Low product count'."
    )
    expect(page.locator("[data-summary-conditions]")).to_have_text("Store is active")
    # 6. Click "Test Conditions": each condition's result with actual and expected
    page.locator("#f-sample_context").fill('{"store_status": "active", "product_count": 2}')
    page.get_by_role("button", name="Test Conditions").click()
    # Row 0 is the threshold's own comparison (as in the API's test-conditions), then the conditions.
    threshold = page.locator("[data-condition-result='0']")
    threshold.wait_for()
    assert threshold.get_attribute("data-passed") == "true"
    assert threshold.locator("[data-actual]").inner_text() == "2"
    result = page.locator("[data-condition-result='1']")
    assert result.get_attribute("data-passed") == "true"
    assert result.locator("[data-actual]").inner_text() == '"active"'
    assert result.locator("[data-expected]").inner_text() == '"active"'
    page.locator("#f-sample_context").fill('{"store_status": "paused"}')
    page.get_by_role("button", name="Test Conditions").click()
    page.locator("[data-condition-result='1'][data-passed='false']").wait_for()
    assert page.locator("[data-overall=fail]").is_visible()
    screenshot(page, "builder-filled")
    # 7. Click "Save Automation"  8. Verify redirect to automation list
    page.get_by_role("button", name="Save Automation").click()
    page.wait_for_url(re.compile(r"/portal/automations$"))
    assert page.locator(".rule-card h3", has_text="Low Product Alert").is_visible()
    rule = AutomationRule.objects.get(tenant=tenant)
    assert rule.trigger_type == "threshold"
    assert rule.trigger_config == {"metric": "product_count", "operator": "<", "value": 3}
    assert rule.conditions == [{"type": "store_status", "operator": "=", "value": "active"}]
    assert rule.action_type == "send_notification"
    assert rule.action_config == {"recipients": ["owner"], "message": "Low product count"}
    screenshot(page, "builder-saved-list")


def test_builder_shows_errors_in_place_and_keeps_the_input(page_for, owner, tenant):
    page = page_for(owner)
    page.goto("/portal/automations/builder/new")
    page.get_by_label("Name", exact=True).fill("Broken")
    # the trigger tabs work from the keyboard: arrow keys move between them
    page.locator("#trigger-event").focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("#trigger-schedule").is_checked()
    expect(page.locator("[data-panel=schedule]")).to_be_visible()
    expect(page.locator("[data-panel=event]")).to_be_hidden()
    outline = page.evaluate("getComputedStyle(document.querySelector('label[for=trigger-schedule]')).outlineStyle")
    assert outline == "solid"  # visible focus
    page.get_by_label("Pattern").select_option("weekly")
    page.locator("#f-t_time").fill("")
    page.locator("#f-t_timezone").fill("Mars/Base")
    page.get_by_role("button", name="Add Condition").click()
    page.locator("#cond-0-type").fill("price")
    page.locator("#cond-0-operator").select_option("between")
    page.locator("#cond-0-value").fill("10, 1")
    page.get_by_label("Action Type").select_option("add_product")
    page.locator("#f-a_add_product__count").fill("500")
    page.get_by_role("button", name="Save Automation").click()
    page.locator("#error-summary").wait_for()
    # each error sits beside its own field, the typed values are still there
    assert "required" in page.locator("#f-t_time-error").inner_text()
    assert "required" in page.locator("#f-t_day-error").inner_text()
    assert "IANA" in page.locator("#f-t_timezone-error").inner_text()
    assert "above the highest" in page.locator("#cond-0-value-error").inner_text()
    assert "at most 100" in page.locator("#f-a_add_product__count-error").inner_text()
    assert "required" in page.locator("#f-a_add_product__template_id-error").inner_text()
    assert page.locator("#f-t_timezone").input_value() == "Mars/Base"
    assert page.locator("#cond-0-value").input_value() == "10, 1"
    assert page.locator("#f-a_add_product__count").input_value() == "500"
    assert page.locator("#f-name").input_value() == "Broken"
    assert page.locator("#f-t_timezone").get_attribute("aria-invalid") == "true"
    assert AutomationRule.objects.filter(tenant=tenant).count() == 0
    screenshot(page, "builder-errors")


def test_builder_shows_what_the_databases_cannot_store_where_it_was_typed(page_for, owner, tenant):
    """The 400 fragments (summary, Test Conditions) are swapped in like 200s; a save is refused in place."""
    page = page_for(owner)
    page.goto("/portal/automations/builder/new")
    page.get_by_label("Name", exact=True).fill("Huge")
    page.locator("label[for=trigger-threshold]").click()
    page.get_by_label("Metric").fill("product_count")
    page.locator("#f-t_operator").select_option("<")
    page.locator("#f-t_value").fill("3")
    page.get_by_role("button", name="Add Condition").click()
    page.locator("#cond-0-type").fill("product_count")
    page.locator("#cond-0-operator").select_option(">")
    page.locator("#cond-0-value").fill("1e400")
    expect(page.locator("[data-summary]")).to_contain_text("conditions[0].value: Numbers must be finite")
    page.locator("#cond-0-value").fill("2")
    page.locator("#f-sample_context").fill('{"product_count": NaN}')
    page.get_by_role("button", name="Test Conditions").click()
    expect(page.locator("[data-error-for=sample_context]")).to_contain_text("NaN is not a JSON number")
    page.locator("[data-panel=send_notification] input[value=owner]").check()
    # a number input sends "" for a value that overflows a double (9 * 5000): 30 digits do reach us
    page.get_by_text("Auto-Approval Rules").click()
    page.locator("#f-aa_max_budget").fill("9" * 30)
    page.get_by_role("button", name="Save Automation").click()
    page.locator("#error-summary").wait_for()
    assert "Whole numbers must be between" in page.locator("#f-aa_max_budget-error").inner_text()
    assert page.locator("#f-aa_max_budget").input_value() == "9" * 30
    assert AutomationRule.objects.filter(tenant=tenant).count() == 0
    screenshot(page, "builder-unstorable")


def test_list_guide_steps_toggle_persists_and_edit_opens_builder(page_for, owner, tenant, rule):
    ran = make_rule(tenant, owner, name="Weekly Campaign Generator", category="marketing")
    AutomationRule.objects.filter(pk=ran.pk).update(execution_count=8, success_count=7, failure_count=1)
    page = page_for(owner)
    # 1. Verify automations display
    page.goto("/portal/automations")
    cards = page.locator(".rule-card")
    assert cards.count() == 2
    assert page.locator("[data-stat=total]").inner_text() == "2"
    assert page.locator("[data-stat=enabled]").inner_text() == "2"
    # 2. Toggle enable/disable switch: no reload, saved, still off after a reload
    card = page.locator(f"[data-rule-id='{rule.pk}']")
    switch = card.get_by_role("switch")
    assert switch.get_attribute("aria-checked") == "true"
    page.evaluate("window.__marker = 'same page'")
    switch.click()
    card.locator("[role=switch][aria-checked=false]").wait_for()
    assert page.evaluate("window.__marker") == "same page"
    expect(page.locator("[data-stat=disabled]")).to_have_text("1")  # the stat cards follow without a reload
    rule.refresh_from_db()
    assert rule.enabled is False
    page.reload()
    assert card.get_by_role("switch").get_attribute("aria-checked") == "false"
    assert page.locator("[data-stat=disabled]").inner_text() == "1"
    # and with the keyboard: focus the switch, press Space
    card.get_by_role("switch").focus()
    page.keyboard.press("Space")
    card.locator("[role=switch][aria-checked=true]").wait_for()
    rule.refresh_from_db()
    assert rule.enabled is True
    # 3. Verify success rate calculation ("—" with no executions, never NaN)
    assert card.locator("[data-field=success-rate]").inner_text() == "—"
    other = page.locator(f"[data-rule-id='{ran.pk}']")
    assert other.locator("[data-field=success-rate]").inner_text() == "87.5%"
    assert "NaN" not in page.content()
    # category tabs filter
    page.get_by_role("link", name="Marketing").click()
    page.wait_for_url(re.compile(r"category=marketing"))
    assert page.locator(".rule-card").count() == 1
    screenshot(page, "list-marketing-tab")
    page.get_by_role("link", name=re.compile(r"^All")).click()
    # 4. Click edit button  5. Verify navigation to builder
    page.locator(f"[data-rule-id='{rule.pk}']").get_by_role("link", name=re.compile("Edit")).click()
    page.wait_for_url(re.compile(rf"/portal/automations/builder/{rule.pk}$"))
    assert page.get_by_label("Name", exact=True).input_value() == "Low Product Alert"
    assert page.locator("#trigger-threshold").is_checked()
    screenshot(page, "list-edit-builder")


def test_list_at_phone_width_and_empty_state(page_for, owner, tenant):
    page = page_for(owner, viewport=PHONE)
    page.goto("/portal/automations")
    assert page.locator("[data-empty]").is_visible()
    assert page.get_by_role("link", name="+ Create your first automation").is_visible()
    # nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "list-empty-375")


def test_details_guide_steps(page_for, owner, tenant, rule):
    for index in range(3):
        make_execution(rule, conditions_met=True, execution_time_ms=10.0 + index)
    failed = make_execution(
        rule, status=ExecutionStatus.FAILED, conditions_met=False, error_message="boom", execution_time_ms=12.0
    )
    AutomationRule.objects.filter(pk=rule.pk).update(
        execution_count=4, success_count=3, failure_count=1, average_execution_time_ms=11
    )
    page = page_for(owner)
    page.goto(f"/portal/automations/{rule.pk}")
    # 1. Verify stats display
    assert page.locator("[data-stat=total-executions]").inner_text() == "4"
    assert page.locator("[data-stat=success-rate]").inner_text() == "75.0%"
    assert page.locator("[data-stat=avg-time]").inner_text() == "11ms"
    assert page.locator("[data-stat=last-24h]").inner_text() == "4"
    assert page.locator("rect.bar").count() == 30
    # 2. Verify execution history table
    rows = page.locator("[data-execution-id]")
    assert rows.count() == 4
    failed_row = page.locator(f"[data-execution-id='{failed.pk}']")
    assert failed_row.locator("[data-status]").inner_text() == "Failed"
    assert failed_row.locator(".bad").count() == 1
    # 3. Click "Test" button
    page.get_by_role("button", name="Test", exact=True).click()
    page.get_by_label("Sample context (JSON)").fill('{"store_status": "closed"}')
    page.get_by_role("button", name="Run test").click()
    result = page.locator("#detail-test-results [data-condition-result='1']")  # 0: the threshold itself
    result.wait_for()
    assert result.get_attribute("data-passed") == "false"
    assert result.locator("[data-actual]").inner_text() == '"closed"'
    screenshot(page, "details-test")
    page.locator("#test-dialog [data-close-dialog]").click()
    # 4. Click "Disable" button  5. Verify status updates
    page.get_by_role("button", name="Disable").click()
    page.locator("#enable-button").wait_for()
    assert page.locator("[data-enabled-badge]").inner_text() == "disabled"
    rule.refresh_from_db()
    assert rule.enabled is False
    # one execution's page
    page.locator(f"[data-execution-id='{failed.pk}']").get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/executions/{failed.pk}$"))
    assert page.locator("[data-error]").inner_text() == "boom"
    screenshot(page, "execution-detail")
    # Run now: the pipeline runs the rule with the caller's context and shows the new execution
    page.goto(f"/portal/automations/{rule.pk}")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/executions/\d+$"))
    run = rule.executions.order_by("-id").first()
    assert (
        run.trigger_source == "manual" and run.status == ExecutionStatus.SKIPPED
    )  # nothing in the context: product_count is missing
    expect(page.locator("h1")).to_have_text(f"Execution #{run.pk}")
    expect(page.locator("[data-condition-result='0']")).to_contain_text("fail")


def test_delete_asks_first(page_for, owner, rule):
    page = page_for(owner)
    page.goto(f"/portal/automations/builder/{rule.pk}")
    page.get_by_role("link", name="Delete").click()
    assert page.get_by_role("heading", name=re.compile("Delete")).is_visible()
    rule.refresh_from_db()
    assert rule.deleted_at is None
    screenshot(page, "delete-confirm")
    page.get_by_role("button", name="Yes, delete it").click()
    page.wait_for_url(re.compile(r"/portal/automations$"))
    assert AutomationRule.all_objects.get(pk=rule.pk).deleted_at is not None
    assert page.locator(".rule-card").count() == 0


def test_summary_panel_follows_the_form_as_you_type(page_for, owner, tenant):
    page = page_for(owner)
    page.goto("/portal/automations/builder/new")
    summary = page.locator("[data-summary]")
    expect(summary).to_have_text("When an event occurs, send a notification.")
    # the trigger tabs work from the keyboard: arrow keys move between them
    page.locator("#trigger-event").focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("#trigger-schedule").is_checked()
    expect(page.locator("[data-panel=schedule]")).to_be_visible()
    expect(page.locator("[data-panel=event]")).to_be_hidden()
    outline = page.evaluate("getComputedStyle(document.querySelector('label[for=trigger-schedule]')).outlineStyle")
    assert outline == "solid"  # visible focus
    page.get_by_label("Pattern").select_option("weekly")
    page.locator("#f-t_day").select_option("monday")
    page.locator("#f-t_time").fill("09:00")
    expect(summary).to_have_text("Every Monday at 09:00 (UTC), send a notification.")
    page.locator("label[for=trigger-event]").click()
    page.get_by_label("Event Type").fill("product_added")
    expect(summary).to_have_text("When a product is added, send a notification.")
    page.get_by_label("Event Type").fill("customer_signup")
    expect(summary).to_have_text("When a customer signs up, send a notification.")
    page.locator("[data-panel=send_notification] input[value=owner]").check()
    page.locator("#f-a_send_notification__message").fill("Welcome!")
    expect(summary).to_have_text("When a customer signs up, send a notification to the owner saying 'Welcome!'")
    # adding and removing a condition row updates the summary too
    page.get_by_role("button", name="Add Condition").click()
    page.locator("#cond-0-type").fill("store_status")
    page.locator("#cond-0-operator").select_option("=")
    page.locator("#cond-0-value").fill("active")
    expect(summary).to_have_text(
        "When a customer signs up in an active store, send a notification to the owner saying 'Welcome!'"
    )
    page.get_by_role("button", name="Remove condition 1").click()
    expect(summary).to_have_text("When a customer signs up, send a notification to the owner saying 'Welcome!'")
    page.get_by_label("Risk Level").select_option("critical")
    expect(summary).to_contain_text("after approval by")
    expect(page.locator("[data-summary-governance]")).to_contain_text("approval")
    screenshot(page, "builder-live-summary")
    # nothing was saved by typing
    assert AutomationRule.objects.filter(tenant=tenant).count() == 0


def test_recommendations_modal_and_create_from_one(page_for, owner, tenant, rule):
    from automations.recommendations import recommend

    expected = [item.as_dict() for item in recommend(tenant, {}, limit=8)]
    page = page_for(owner)
    page.goto("/portal/automations")
    page.get_by_role("button", name="Recommendations").click()
    dialog = page.get_by_role("dialog", name="Recommended Automations")
    expect(dialog).to_be_visible()
    cards = dialog.locator("[data-recommendation]")
    expect(cards).to_have_count(len(expected))
    first = cards.first
    assert first.get_attribute("data-recommendation") == expected[0]["name"]
    expect(first.locator("[data-match]")).to_have_text(f"{expected[0]['relevance_score'] * 100:.0f}% match")
    expect(first).to_contain_text(expected[0]["reasoning"])
    expect(first.locator(".badge.blue")).to_have_text(expected[0]["category"])
    # the tenant already runs a Low Product Alert, so it is not recommended again
    assert dialog.locator("[data-recommendation='Low Product Alert']").count() == 0
    screenshot(page, "recommendations-modal")
    # Create opens the builder pre-filled with the suggestion
    chosen = next(item for item in expected if item["key"] == "new_product_announcement")
    dialog.get_by_role("link", name=f"Create {chosen['name']}").click()
    page.wait_for_url(re.compile(r"/builder/new\?recommendation=new_product_announcement"))
    assert page.get_by_label("Name", exact=True).input_value() == chosen["name"]
    assert page.locator("#trigger-event").is_checked()
    assert page.get_by_label("Event Type").input_value() == "product_added"
    assert page.get_by_label("Action Type").input_value() == "generate_campaign"
    panel = page.locator("[data-panel=generate_campaign]")
    assert panel.locator("input[value=email]").is_checked() and panel.locator("input[value=social]").is_checked()
    page.get_by_role("button", name="Save Automation").click()
    page.wait_for_url(re.compile(r"/portal/automations$"))
    created = AutomationRule.objects.get(tenant=tenant, name=chosen["name"])
    config = chosen["suggested_config"]
    assert (created.trigger_type, created.trigger_config) == (config["trigger_type"], config["trigger_config"])
    assert (created.action_type, created.action_config) == (config["action_type"], config["action_config"])
