"""The security review's findings on the permission policy (issue 12), each on every surface it reaches:
the admin tenant takeover, council seats that outlived the role, decisions on archived rules, a
requester approving their own critical execution, and the demo's model permissions."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client

from automations.services import rule_archive
from executions.approvals import approval_request_open
from executions.choices import ApprovalStatus, ExecutionStatus
from executions.models import ApprovalRequest, AutomationExecution
from executions.services import ExecutionConflict, execute_rule_manually, execution_approve
from governance.models import CouncilMember, Membership, Tenant
from governance.policy import allows
from governance.roles import Capability
from governance.services import membership_remove, membership_set, tenant_update
from tests.api import post_json, staff_client, token_client
from tests.factories import make_execution, make_rule, make_tenant, make_user, tenant_admin_form

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/executions/approvalrequest/"


def awaiting(rule, **fields) -> ApprovalRequest:
    execution = make_execution(rule, ExecutionStatus.AWAITING_APPROVAL, **{"trigger_source": "event", **fields})
    return approval_request_open(execution, rule, {"reason": "needs a council"})


@pytest.fixture
def high_rule(tenant, owner):
    return make_rule(tenant, owner, name="High", risk_level="high")


# --- 1. the admin tenant takeover ------------------------------------------------------------------


def test_a_tenant_change_form_cannot_retarget_another_tenants_row(tenant, owner, other_tenant, other_owner):
    # given: alice owns tenant_test and is staff; tenant_other belongs to charlie
    client = staff_client(owner)
    form = tenant_admin_form(
        Tenant.objects.get(pk="tenant_test"),
        id="tenant_other",  # the attack: the primary key edited in the change form
        name="Taken over",
        **{
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": str(owner.pk),
            "memberships-0-role": "owner",
        },
    )
    # when
    response = client.post("/admin/governance/tenant/tenant_test/change/", form)
    # then: the id is read-only, so the form saved tenant_test only; tenant_other is untouched
    assert response.status_code == 302
    other = Tenant.objects.get(pk="tenant_other")
    assert other.name == "Other Shop"
    assert Tenant.objects.get(pk="tenant_test").name == "Taken over"
    assert not Membership.objects.filter(tenant=other, user=owner).exists()
    assert list(Membership.objects.filter(tenant=other).values_list("user__username", flat=True)) == ["charlie"]


def test_the_admin_never_offers_or_opens_another_tenant(tenant, owner, other_tenant):
    client = staff_client(owner)
    assert client.get("/admin/governance/tenant/tenant_other/change/").status_code == 302  # "does not exist"
    assert b'name="id"' not in client.get("/admin/governance/tenant/tenant_test/change/").content
    response = client.post(
        "/admin/governance/membership/add/", {"tenant": "tenant_other", "user": owner.username, "role": "owner"}
    )
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert not Membership.objects.filter(tenant=other_tenant, user=owner).exists()


def test_only_an_owner_changes_the_tenant_on_every_surface(tenant, owner, collaborator):
    with pytest.raises(PermissionDenied):
        tenant_update(tenant, {"name": "Mine now"}, collaborator)
    assert staff_client(collaborator).get("/admin/governance/tenant/tenant_test/change/").status_code == 200
    refused = staff_client(collaborator).post("/admin/governance/tenant/tenant_test/change/", {"name": "Mine now"})
    assert refused.status_code == 403
    tenant_update(tenant, {"name": "Renamed"}, owner)
    assert Tenant.objects.get(pk=tenant.pk).name == "Renamed"


def test_tenant_update_refuses_the_id_and_unknown_fields(tenant, owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        tenant_update(tenant, {"id": "tenant_other"}, owner)
    assert "id" in error.value.message_dict


# --- 4. council seats follow the membership and the role ---------------------------------------------


def test_a_demotion_takes_the_seat_away(tenant, owner, council_member):
    membership_set(tenant, council_member, "viewer", owner)
    assert not CouncilMember.objects.filter(council__tenant=tenant, user=council_member).exists()


def test_removing_a_membership_takes_the_seats_and_trust_away(tenant, owner, council_member):
    from governance.models import TrustedUser

    TrustedUser.objects.create(tenant=tenant, user=council_member)
    membership_remove(Membership.objects.get(tenant=tenant, user=council_member), owner)
    assert not CouncilMember.objects.filter(user=council_member).exists()
    assert not TrustedUser.objects.filter(user=council_member).exists()


@pytest.mark.parametrize("how", ["demoted", "removed"])
def test_a_left_behind_seat_decides_nothing_on_any_surface(tenant, owner, council_member, high_rule, how):
    # given: carol's role changes behind the services' back (the ORM), her seat left in place
    approval = awaiting(high_rule)
    if how == "demoted":
        Membership.objects.filter(tenant=tenant, user=council_member).update(role="viewer")
    else:
        Membership.objects.filter(tenant=tenant, user=council_member).delete()
    assert CouncilMember.objects.filter(user=council_member).exists()
    execution = approval.execution
    # when / then: the service, the API, the portal and the admin all refuse
    with pytest.raises(PermissionDenied):
        execution_approve(execution, council_member)
    assert token_client(council_member).post(f"/api/executions/{execution.pk}/approve").status_code in (403, 404)
    portal = staff_client(council_member)
    assert portal.post(f"/portal/approvals/{approval.pk}/approve").status_code in (403, 404)
    portal.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [approval.pk]})
    assert ApprovalRequest.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING


def test_a_seat_needs_a_role_that_approves(tenant, owner, collaborator):
    from django.core.exceptions import ValidationError

    from governance.selectors import default_council
    from governance.services import council_member_add

    with pytest.raises(ValidationError) as error:
        council_member_add(default_council(tenant.pk), collaborator, owner)
    assert "user" in error.value.message_dict
    response = staff_client(owner).post(
        "/admin/governance/councilmember/add/", {"council": default_council(tenant.pk).pk, "user": "bob"}
    )
    assert response.status_code == 200 and b"Only an owner or a council member" in response.content


# --- 7. archiving cancels pending approvals; deciding one answers 409 --------------------------------


def test_archiving_cancels_pending_approvals(tenant, owner, high_rule):
    approval = awaiting(high_rule)
    rule_archive(high_rule, owner)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.CANCELLED
    execution = AutomationExecution.objects.get(pk=approval.execution_id)
    assert execution.status == ExecutionStatus.CANCELLED and execution.success is False
    assert "archived" in execution.error_message


def test_a_decision_on_an_archived_rules_execution_is_409_everywhere(tenant, owner, council_member, high_rule):
    approval = awaiting(high_rule)
    # The archive happened some other way than the service (an old row): the decision still refuses.
    type(high_rule).all_objects.filter(pk=high_rule.pk).update(deleted_at="2026-01-01T00:00:00Z")
    with pytest.raises(ExecutionConflict):
        execution_approve(approval.execution, council_member)
    response = token_client(council_member).post(f"/api/executions/{approval.execution_id}/approve")
    assert response.status_code == 409, response.content
    page = staff_client(council_member).post(f"/portal/approvals/{approval.pk}/approve", follow=True)
    assert b"archived" in page.content
    assert AutomationExecution.objects.get(pk=approval.execution_id).status == ExecutionStatus.AWAITING_APPROVAL


def test_an_archived_rule_never_runs_its_action_after_approval(tenant, owner, council_member, high_rule):
    approval = awaiting(high_rule)
    token_client(owner).delete(f"/api/automations/{high_rule.pk}")
    response = token_client(council_member).post(f"/api/executions/{approval.execution_id}/approve")
    assert response.status_code == 409
    assert AutomationExecution.objects.get(pk=approval.execution_id).action_started_at is None


# --- 7. the requester cannot approve their own critical execution -----------------------------------


@pytest.fixture
def critical_run(tenant, owner):
    rule = make_rule(tenant, owner, name="Critical", risk_level="critical")
    execution = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    assert execution.status == ExecutionStatus.AWAITING_APPROVAL
    return execution


def test_the_requester_cannot_approve_their_own_critical_run_on_any_surface(tenant, owner, critical_run):
    approval = ApprovalRequest.objects.get(execution=critical_run)
    with pytest.raises(PermissionDenied, match="another council member"):
        execution_approve(critical_run, owner)
    response = token_client(owner).post(f"/api/executions/{critical_run.pk}/approve")
    assert response.status_code == 403 and "another council member" in response.json()["detail"]
    client = staff_client(owner)
    assert client.post(f"/portal/approvals/{approval.pk}/approve").status_code == 403
    admin = client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [approval.pk]}, follow=True)
    assert b"another council member" in admin.content
    assert ApprovalRequest.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING


def test_another_council_member_approves_the_requesters_run(tenant, critical_run, council_member):
    execution_approve(critical_run, council_member)
    assert ApprovalRequest.objects.get(execution=critical_run).status == ApprovalStatus.APPROVED


def test_the_setting_can_be_turned_off_or_widened(tenant, owner, critical_run):
    tenant_update(tenant, {"requester_cannot_approve": "never"}, owner)
    execution_approve(critical_run, owner)
    assert ApprovalRequest.objects.get(execution=critical_run).status == ApprovalStatus.APPROVED
    tenant_update(tenant, {"requester_cannot_approve": "high"}, owner)
    high = make_rule(tenant, owner, name="High too", risk_level="high", requires_approval=True)
    run = execute_rule_manually(high, {"store_status": "active", "product_count": 2}, owner)
    with pytest.raises(PermissionDenied):
        execution_approve(run, owner)


# --- 3. the demo grants no model permissions; its council member cannot promote themselves ---------


def test_seed_demo_grants_no_model_permissions_and_the_council_cannot_become_owner(settings):
    call_command("seed_demo")
    from django.contrib.auth import get_user_model

    council = get_user_model().objects.get(username="demo_council")
    assert not council.user_permissions.exists() and not council.is_superuser
    client = Client()
    client.force_login(council)
    response = client.post(
        "/admin/governance/membership/add/", {"tenant": "tenant_demo", "user": "demo_council", "role": "owner"}
    )
    assert response.status_code == 403
    membership = Membership.objects.get(tenant_id="tenant_demo", user=council)
    assert client.post(f"/admin/governance/membership/{membership.pk}/change/", {"role": "owner"}).status_code == 403
    assert Membership.objects.get(pk=membership.pk).role == "council"
    # ...while the demo owner manages the tenant through the same admin
    owner = get_user_model().objects.get(username="demo_owner")
    assert allows(owner, "tenant_demo", Capability.MANAGE_TENANT)
    client.force_login(owner)
    assert client.get("/admin/governance/membership/").status_code == 200


def test_a_service_call_from_the_shell_gets_the_same_answer(tenant, collaborator):
    """The shell's service calls ask the same policy: a collaborator cannot create a critical rule."""
    from automations.services import rule_create
    from tests.factories import LOW_PRODUCT_ALERT

    with pytest.raises(PermissionDenied, match="critical"):
        rule_create(tenant, {**LOW_PRODUCT_ALERT, "risk_level": "critical"}, collaborator)
    other = make_tenant("tenant_third")
    stranger = make_user("zed")
    with pytest.raises(PermissionDenied, match="not a member"):
        rule_create(other, dict(LOW_PRODUCT_ALERT), stranger)


def test_the_api_403_carries_the_policys_reason(tenant, collaborator, high_rule):
    response = post_json(token_client(collaborator), f"/api/automations/{high_rule.pk}/execute", {"context": {}})
    assert response.status_code == 403
    assert "high-risk" in response.json()["detail"]


def test_a_new_tenant_time_zone_reschedules_its_rules(tenant, owner):
    rule = make_rule(
        tenant,
        owner,
        name="Daily",
        trigger_type="schedule",
        trigger_config={"pattern": "daily", "time": "09:00"},
        conditions=[],
    )
    before = rule.next_run_at
    tenant_update(tenant, {"timezone": "Asia/Tokyo"}, owner)
    rule.refresh_from_db()
    assert rule.next_run_at != before
    assert rule.next_run_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "09:00"


def test_trust_needs_a_current_membership(tenant, owner, collaborator):
    from governance.models import TrustedUser
    from governance.selectors import is_trusted_user

    TrustedUser.objects.create(tenant=tenant, user=collaborator)
    assert is_trusted_user(tenant.pk, collaborator.pk)
    Membership.objects.filter(tenant=tenant, user=collaborator).delete()  # behind the services' back
    assert not is_trusted_user(tenant.pk, collaborator.pk)


def test_pages_offer_only_what_the_role_allows_per_rule(tenant, owner, collaborator, high_rule):
    low = make_rule(tenant, owner, name="Low")
    html = staff_client(collaborator).get("/portal/automations").content.decode()
    assert f"/portal/automations/builder/{low.pk}" in html
    assert f"/portal/automations/builder/{high_rule.pk}" not in html
    toggles = re.findall(r'<button type="submit" class="toggle"[^>]*aria-label="Enabled: ([^"]+)"([^>]*)>', html)
    assert {name: "disabled" in rest for name, rest in toggles} == {"Low": False, "High": True}
    detail = staff_client(collaborator).get(f"/portal/automations/{high_rule.pk}").content.decode()
    assert "run-button" not in detail and "builder-edit" not in detail
    assert staff_client(collaborator).get(f"/portal/automations/builder/{high_rule.pk}").status_code == 403
