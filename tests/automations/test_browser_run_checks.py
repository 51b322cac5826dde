"""One answer to "would this run?" in a real browser: the builder's and the details page's Test show the
threshold comparison and the answer the API gives, and a run with the tested context does what Test said
and logs the same rows (docs/pipeline.md, "What a manual run checks")."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from automations.services import rule_test_conditions
from executions.choices import ExecutionStatus
from tests.browser import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOO_MANY = {"product_count": 50, "store_status": "active"}
LOW = {"product_count": 2, "store_status": "active"}


def test_builder_test_counts_the_threshold_comparison(page_for, owner, rule):
    expected = rule_test_conditions(rule, TOO_MANY, owner)  # what the API's test-conditions answers
    assert expected.summary == "1 of 2 conditions failed: product_count is 50, not less than 3"
    page = page_for(owner)
    page.goto(f"/portal/automations/builder/{rule.pk}")
    page.locator("#f-sample_context").fill(json.dumps(TOO_MANY))
    page.get_by_role("button", name="Test Conditions").click()
    threshold = page.locator("[data-condition-result='0']")
    threshold.wait_for()
    assert threshold.get_attribute("data-passed") == "false"
    assert threshold.locator("[data-actual]").inner_text() == "50"
    assert threshold.locator("[data-expected]").inner_text() == "3"
    expect(threshold).to_contain_text("product_count is 50, not less than 3")
    assert page.locator("[data-condition-result='1']").get_attribute("data-passed") == "true"
    assert page.locator("[data-overall=fail]").is_visible()
    assert page.locator("[data-overall=pass]").count() == 0
    expect(page.locator("[data-check-summary]")).to_have_text(expected.summary)
    expect(page.locator("[data-run-answer]")).to_have_attribute("data-run-answer", "skipped")
    expect(page.locator("[data-run-answer]")).to_contain_text("A run with this context is skipped")
    screenshot(page, "builder-test-threshold-fails")

    page.locator("#f-sample_context").fill(json.dumps(LOW))
    page.get_by_role("button", name="Test Conditions").click()
    page.locator("[data-overall=pass]").wait_for()
    assert page.locator("[data-condition-result='0']").get_attribute("data-passed") == "true"
    expect(page.locator("[data-check-summary]")).to_have_text("All 2 conditions passed")
    expect(page.locator("[data-run-answer]")).to_have_attribute("data-run-answer", "runs")


@pytest.mark.parametrize(
    ("context", "answer", "status"),
    [(TOO_MANY, "skipped", ExecutionStatus.SKIPPED), (LOW, "runs", ExecutionStatus.SUCCEEDED)],
)
def test_details_test_and_a_run_with_its_context_agree(page_for, owner, rule, context, answer, status):
    expected = rule_test_conditions(rule, context, owner)
    page = page_for(owner)
    page.goto(f"/portal/automations/{rule.pk}")
    page.get_by_role("button", name="Test", exact=True).click()
    page.get_by_label("Sample context (JSON)").fill(json.dumps(context))
    page.get_by_role("button", name="Run test").click()
    results = page.locator("#detail-test-results")
    results.locator("[data-run-answer]").wait_for()
    expect(results.locator("[data-run-answer]")).to_have_attribute("data-run-answer", answer)
    expect(results.locator("[data-check-summary]")).to_have_text(expected.summary)
    shown = [
        results.locator(f"[data-condition-result='{index}']").get_attribute("data-passed")
        for index in range(len(expected.results))
    ]
    assert shown == [str(row["passed"]).lower() for row in expected.results]
    screenshot(page, f"details-test-threshold-{answer}")

    # when: run with the tested context, from the same dialog
    page.get_by_role("button", name="Run with this context").click()
    page.wait_for_url(re.compile(r"/executions/\d+$"))
    # then: the run did what Test said and its page shows the same rows
    run = rule.executions.order_by("-id").first()
    assert run.trigger_source == "manual" and run.status == status
    assert run.condition_results == expected.results
    expect(page.locator("h1")).to_have_text(f"Execution #{run.pk}")
    for index, row in enumerate(expected.results):
        shown_row = page.locator(f"[data-condition-result='{index}']")
        expect(shown_row).to_contain_text("✓ pass" if row["passed"] else "✗ fail")
        expect(shown_row.locator("[data-actual]")).to_have_text(json.dumps(row["actual_value"]))
    screenshot(page, f"details-run-with-context-{answer}")


def test_a_bad_context_for_run_with_this_context_is_shown_in_the_dialog(page_for, owner, rule):
    page = page_for(owner)
    page.goto(f"/portal/automations/{rule.pk}")
    page.get_by_role("button", name="Test", exact=True).click()
    page.get_by_label("Sample context (JSON)").fill("{not json")
    page.get_by_role("button", name="Run with this context").click()
    error = page.locator("#detail-test-results [data-error-for=sample_context]")
    expect(error).to_contain_text("not valid JSON")
    assert rule.executions.count() == 0
