"""The admin's approvals in Chromium: the list fits a 1440 px screen with long names, and the object
page's Approve button decides through the services."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from playwright.sync_api import expect

from executions.choices import ApprovalStatus, ExecutionStatus
from executions.models import ApprovalRequest
from executions.services import execute_rule_manually, execution_approve
from tests.browser import DESKTOP, screenshot
from tests.factories import make_rule, make_tenant, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG_WORD = "Restock_the_seasonal_holiday_collection_for_northern_hemisphere_flagship_stores"
CHANGELIST = "/admin/executions/approvalrequest/"


@pytest.fixture
def long_approvals():
    tenant = make_tenant("tenant_with_a_rather_long_identifier_for_testing", name="Northern" + "Hemisphere" * 6)
    owner = make_user("alexandra_montgomery_whitfield_of_the_northern_region", tenant, "owner")
    member = make_user("bartholomew_featherstonehaugh_council_member_of_the_region", tenant, "council", is_staff=True)
    executions = []
    for number in range(3):
        rule = make_rule(tenant, owner, name=f"{LONG_WORD}_{number} {LONG_WORD} and more words", risk_level="critical")
        executions.append(execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner))
    return member, executions


def test_admin_approvals_list_fits_1440_and_the_page_approves(page_for, long_approvals):
    member, executions = long_approvals
    execution_approve(executions[2], member)  # a decided row shows its decider and time too
    page = page_for(member, viewport=DESKTOP)
    page.goto(CHANGELIST)
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "admin-approvals-1440")
    assert width <= DESKTOP["width"], f"the approvals list is {width} px wide"
    # the table fits its box (the admin scrolls a wider one sideways) and every column lies on the screen
    box_widths = page.evaluate(
        "(() => { const box = document.querySelector('#changelist-form .results');"
        " return [box.scrollWidth, box.clientWidth]; })()"
    )
    assert box_widths[0] <= box_widths[1], f"the results table is {box_widths[0]} px in a {box_widths[1]} px box"
    for header in page.locator("#result_list thead th").all():
        box = header.bounding_box()
        assert box is not None and box["x"] + box["width"] <= DESKTOP["width"] + 0.5, header.inner_text()

    approval = ApprovalRequest.objects.get(execution=executions[0])
    page.goto(f"{CHANGELIST}{quote(approval.pk)}/change/")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    screenshot(page, "admin-approval-page")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Approved execution {executions[0].pk}")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED and approval.decided_by == member
    assert approval.execution.status in (ExecutionStatus.APPROVED, ExecutionStatus.SUCCEEDED)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    second = ApprovalRequest.objects.get(execution=executions[1])
    page.goto(f"{CHANGELIST}{quote(second.pk)}/change/")
    page.get_by_label("Reason (optional):").fill("Not during the sale")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Rejected execution {executions[1].pk}")
    second.refresh_from_db()
    assert second.status == ApprovalStatus.REJECTED and second.decision_note == "Not during the sale"
    screenshot(page, "admin-approval-rejected")
