"""Approvals wherever they are expected: Approve and Reject on the admin's approval page (the same
services and role checks as the API and the portal), times to the minute in the admin, and the council's
"approval needed" notices marked done once anyone decides, whichever surface decided."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.test import Client

from automations.services import rule_archive
from executions.choices import ApprovalStatus, ExecutionStatus, NotificationKind
from executions.models import ApprovalRequest, Notification
from executions.services import (
    ExecutionConflict,
    execute_rule_manually,
    execution_approve,
    execution_decision_refusal,
    execution_reject,
)
from governance.services import membership_set
from tests.api import post_json, staff_client, token_client
from tests.factories import make_rule, make_user

CHANGELIST = "/admin/executions/approvalrequest/"
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")


def change_url(approval: ApprovalRequest) -> str:
    return f"{CHANGELIST}{quote(approval.pk)}/change/"


def decide_url(approval: ApprovalRequest, verb: str) -> str:
    return f"{CHANGELIST}{quote(approval.pk)}/decide/{verb}/"


@pytest.fixture
def awaiting(tenant, owner, council_member, django_capture_on_commit_callbacks):
    """A critical rule's manual run by the owner, waiting for the default council (owner and carol sit
    on it; the owner, its requester, may not decide a critical one), and both members' notices."""
    rule = make_rule(tenant, owner, name="Critical Alert", risk_level="critical")
    with django_capture_on_commit_callbacks(execute=True):
        execution = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL
    notices = Notification.objects.filter(execution=execution, kind=NotificationKind.APPROVAL_REQUESTED)
    assert set(notices.values_list("user_id", flat=True)) == {owner.pk, council_member.pk}
    assert not notices.filter(read_at__isnull=False).exists()
    return execution


def approval_notices_unread(execution) -> set[int]:
    return set(
        Notification.objects.filter(
            execution=execution, kind=NotificationKind.APPROVAL_REQUESTED, read_at__isnull=True
        ).values_list("user_id", flat=True)
    )


# --- the service: one decision marks every member's notice done --------------------------------------


@pytest.mark.django_db
def test_approving_marks_every_members_approval_notice_done(awaiting, council_member, owner):
    execution_approve(awaiting, council_member)
    assert approval_notices_unread(awaiting) == set()  # the owner's too: nothing waits for them any more
    # a failure notice about the same execution is another kind and is left alone
    other = Notification.objects.create(
        tenant_id=awaiting.tenant_id, user=owner, kind=NotificationKind.EXECUTION_FAILED, title="x", execution=awaiting
    )
    other.refresh_from_db()
    assert other.read_at is None


@pytest.mark.django_db
def test_rejecting_and_archiving_mark_the_notices_done(tenant, owner, council_member, awaiting):
    execution_reject(awaiting, council_member, "not now")
    assert approval_notices_unread(awaiting) == set()
    second = execute_rule_manually(awaiting.automation_rule, {"store_status": "active", "product_count": 2}, owner)
    Notification.objects.create(
        tenant=tenant, user=council_member, kind=NotificationKind.APPROVAL_REQUESTED, title="t", execution=second
    )
    assert approval_notices_unread(second) == {council_member.pk}
    rule_archive(second.automation_rule, owner)
    assert approval_notices_unread(second) == set()


@pytest.mark.django_db
def test_a_refused_decision_leaves_the_notices_waiting(awaiting, owner, council_member, collaborator):
    with pytest.raises(PermissionDenied, match="you triggered this critical-risk execution"):
        execution_approve(awaiting, owner)  # the requester of a critical run
    with pytest.raises(PermissionDenied, match=r"Your role \(collaborator\) does not allow approve"):
        execution_reject(awaiting, collaborator)
    assert approval_notices_unread(awaiting) == {owner.pk, council_member.pk}


@pytest.mark.django_db
def test_decision_refusal_gives_the_services_reason(awaiting, owner, council_member, collaborator):
    assert execution_decision_refusal(awaiting, council_member) is None
    assert execution_decision_refusal(awaiting, collaborator) == "Your role (collaborator) does not allow approve."
    assert "another council member must decide" in execution_decision_refusal(awaiting, owner)
    execution_approve(awaiting, council_member)
    assert execution_decision_refusal(awaiting, council_member) == f"execution {awaiting.pk} was already approved"
    with pytest.raises(ExecutionConflict):
        execution_approve(awaiting, council_member)


@pytest.mark.django_db
def test_deciding_through_the_api_marks_the_notices_done(awaiting, council_member):
    response = post_json(token_client(council_member), f"/api/executions/{awaiting.pk}/reject", {"reason": "no"})
    assert response.status_code == 200, response.content
    assert approval_notices_unread(awaiting) == set()


@pytest.mark.django_db
def test_deciding_in_the_portal_marks_the_notices_done(awaiting, council_member):
    approval = awaiting.approval_request
    response = staff_client(council_member).post(f"/portal/approvals/{approval.pk}/approve")
    assert response.status_code == 302
    assert approval_notices_unread(awaiting) == set()


# --- the admin's object page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_approval_page_offers_approve_and_reject_to_a_council_member(awaiting, council_member):
    page = staff_client(council_member).get(change_url(awaiting.approval_request))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'action="{decide_url(awaiting.approval_request, "approve")}"' in html
    assert f'action="{decide_url(awaiting.approval_request, "reject")}"' in html
    assert 'value="Approve"' in html and 'value="Reject"' in html
    assert "data-decision-refusal" not in html


@pytest.mark.django_db
def test_admin_approve_button_runs_the_action_once_and_marks_the_notices_done(
    awaiting, council_member, django_capture_on_commit_callbacks
):
    client = staff_client(council_member)
    approval = awaiting.approval_request
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(decide_url(approval, "approve"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(approval)
    assert f"Approved execution {awaiting.pk} of “Critical Alert”." in response.content.decode()
    approval.refresh_from_db()
    awaiting.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED and approval.decided_by == council_member
    assert awaiting.status == ExecutionStatus.SUCCEEDED and awaiting.action_attempts == 1
    assert awaiting.approved_by_user_id == str(council_member.pk)
    assert approval_notices_unread(awaiting) == set()
    # the page no longer offers the buttons, and a second POST is a message, not a second run
    assert 'value="Approve"' not in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(decide_url(approval, "approve"), follow=True)
    assert f"Not approved, execution {awaiting.pk}" in again.content.decode()
    assert "was already approved" in again.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.action_attempts == 1


@pytest.mark.django_db
def test_admin_reject_button_keeps_the_reason(awaiting, council_member):
    approval = awaiting.approval_request
    response = staff_client(council_member).post(decide_url(approval, "reject"), {"reason": "Not during the sale"})
    assert response.status_code == 302
    awaiting.refresh_from_db()
    approval.refresh_from_db()
    assert awaiting.status == ExecutionStatus.REJECTED and "Not during the sale" in awaiting.error_message
    assert approval.status == ApprovalStatus.REJECTED and approval.decision_note == "Not during the sale"
    assert approval_notices_unread(awaiting) == set()


@pytest.mark.django_db
def test_admin_reject_with_a_reason_the_database_cannot_store_is_a_message(awaiting, council_member):
    approval = awaiting.approval_request
    response = staff_client(council_member).post(decide_url(approval, "reject"), {"reason": "bad\x00"}, follow=True)
    assert response.status_code == 200
    assert "Not rejected" in response.content.decode() and "reason:" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_admin_user_without_the_approver_role_is_refused_with_the_role_message(awaiting, collaborator):
    client = staff_client(collaborator)
    approval = awaiting.approval_request
    response = client.post(decide_url(approval, "approve"), follow=True)
    assert response.status_code == 200
    assert "Your role (collaborator) does not allow approve." in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert client.post(decide_url(approval, "reject")).status_code == 302
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_admin_demoted_member_is_refused(awaiting, owner, council_member):
    client = staff_client(council_member)
    membership_set(awaiting.tenant, council_member, "viewer", owner)
    response = client.post(decide_url(awaiting.approval_request, "approve"), follow=True)
    assert "Your role (viewer) does not allow approve." in response.content.decode()
    assert ApprovalRequest.objects.get(pk=awaiting.approval_request.pk).status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_admin_page_says_why_a_superuser_off_the_council_cannot_decide(awaiting):
    root = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    approval = awaiting.approval_request
    html = client.get(change_url(approval)).content.decode()
    assert "data-decision-refusal" in html and "only a member of the council" in html
    assert 'value="Approve"' not in html
    response = client.post(decide_url(approval, "approve"), follow=True)
    assert "only a member of the council" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_admin_decide_url_refuses_get_other_verbs_and_other_tenants(awaiting, council_member, other_owner):
    client = staff_client(council_member)
    approval = awaiting.approval_request
    assert client.get(decide_url(approval, "approve")).status_code == 405
    assert client.post(decide_url(approval, "maybe")).status_code == 404
    assert client.post(f"{CHANGELIST}99999999999999999999999/decide/approve/").status_code == 302  # no such row
    outsider = staff_client(other_owner)
    response = outsider.post(decide_url(approval, "approve"), follow=True)
    assert f"No approval request {approval.pk} in your tenants." in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_admin_times_are_shown_to_the_minute(awaiting, council_member):
    client = staff_client(council_member)
    approval = awaiting.approval_request
    assert approval.requested_at.microsecond or approval.requested_at.second  # stored with sub-minute detail
    execution_approve(awaiting, council_member)
    approval.refresh_from_db()
    shown_requested = approval.requested_at.strftime("%Y-%m-%d %H:%M")
    shown_decided = approval.decided_at.strftime("%Y-%m-%d %H:%M")
    for url in (CHANGELIST, change_url(approval)):
        html = client.get(url).content.decode()
        assert shown_requested in html and shown_decided in html, url
        assert not MICROSECONDS.search(html), url
        assert approval.requested_at.strftime("%H:%M:%S") not in html, url


@pytest.mark.django_db
def test_admin_bulk_reject_goes_through_the_same_path(awaiting, council_member):
    response = staff_client(council_member).post(
        CHANGELIST, {"action": "reject_selected", "_selected_action": [awaiting.approval_request.pk]}, follow=True
    )
    assert f"Rejected execution {awaiting.pk} of “Critical Alert”." in response.content.decode()
    assert approval_notices_unread(awaiting) == set()
