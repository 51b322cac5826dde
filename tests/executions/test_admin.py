"""Admin: approve and reject actions on a list scoped to the user's councils; execution logs read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from executions.choices import ApprovalStatus, ExecutionStatus
from executions.models import ApprovalRequest, AutomationExecution
from executions.services import emit_event
from tests.api import staff_client
from tests.executions.conftest import make_event_rule

CHANGELIST = "/admin/executions/approvalrequest/"


@pytest.fixture
def two_tenants_awaiting(tenant, other_tenant, owner, other_owner, risky_rule, django_capture_on_commit_callbacks):
    from executions.models import MetricSample

    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    MetricSample.objects.create(tenant=other_tenant, metric="store_status", value_text="active")
    make_event_rule(other_tenant, other_owner, name="Their risky rule", risk_level="high")
    with django_capture_on_commit_callbacks(execute=True):
        emit_event(tenant.pk, "product_added", {}, source="store")
        emit_event(other_tenant.pk, "product_added", {}, source="store")
    assert ApprovalRequest.objects.count() == 2
    return ApprovalRequest.objects.get(tenant=tenant), ApprovalRequest.objects.get(tenant=other_tenant)


@pytest.mark.django_db
def test_the_approvals_list_shows_only_the_users_councils(council_member, two_tenants_awaiting):
    mine, _theirs = two_tenants_awaiting
    response = staff_client(council_member).get(CHANGELIST)
    assert response.status_code == 200
    listed = {row.pk for row in response.context["cl"].queryset}
    assert listed == {mine.pk}


@pytest.mark.django_db
def test_approve_in_the_admin_runs_the_action_once(
    council_member, two_tenants_awaiting, django_capture_on_commit_callbacks
):
    mine, theirs = two_tenants_awaiting
    client = staff_client(council_member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [mine.pk, theirs.pk]})
    assert response.status_code == 302

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == ApprovalStatus.APPROVED and mine.decided_by_id == council_member.pk
    assert theirs.status == ApprovalStatus.PENDING  # outside the user's councils: not even selectable
    execution = mine.execution
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.action_attempts == 1
    assert execution.approved_by_user_id == str(council_member.pk)

    # approving again changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [mine.pk]})
    execution.refresh_from_db()
    assert execution.action_attempts == 1


@pytest.mark.django_db
def test_reject_in_the_admin(council_member, two_tenants_awaiting):
    mine, _ = two_tenants_awaiting
    staff_client(council_member).post(CHANGELIST, {"action": "reject_selected", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.status == ApprovalStatus.REJECTED
    assert AutomationExecution.objects.get(pk=mine.execution_id).status == ExecutionStatus.REJECTED


@pytest.mark.django_db
def test_a_superuser_sees_every_approval_but_decides_only_as_a_council_member(two_tenants_awaiting):
    from tests.factories import make_user

    mine, _ = two_tenants_awaiting
    root = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    assert client.get(CHANGELIST).context["cl"].queryset.count() == 2
    response = client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [mine.pk]}, follow=True)
    assert "only a member of the council" in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == ApprovalStatus.PENDING


@pytest.mark.django_db
def test_execution_logs_are_read_only(owner, two_tenants_awaiting):
    client = staff_client(owner)
    from django.contrib.auth.models import Permission

    owner.user_permissions.add(*Permission.objects.filter(content_type__app_label="executions"))
    execution = AutomationExecution.objects.get(tenant_id="tenant_test")
    assert client.get("/admin/executions/automationexecution/").status_code == 200
    assert client.get(f"/admin/executions/automationexecution/{execution.pk}/change/").status_code == 200
    assert client.get("/admin/executions/automationexecution/add/").status_code == 403
