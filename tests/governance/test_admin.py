"""Admin lists, filters and search; a non-superuser sees only the tenants they belong to."""

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission

from automations.models import AutomationRule
from tests.factories import make_rule

ADMIN_LISTS = [
    "/admin/governance/tenant/",
    "/admin/governance/membership/",
    "/admin/governance/council/",
    "/admin/governance/councilmember/",
    "/admin/governance/trusteduser/",
    "/admin/automations/automationrule/",
    "/admin/automations/ruleversion/",
]


@pytest.fixture
def staff_owner(owner):
    owner.is_staff = True
    owner.save()
    owner.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["governance", "automations", "executions"])
    )
    return owner


@pytest.fixture
def two_tenants_rules(tenant, other_tenant, owner, other_owner):
    mine = make_rule(tenant, owner, name="Mine")
    theirs = make_rule(other_tenant, other_owner, name="Theirs")
    return mine, theirs


@pytest.mark.parametrize("url", ADMIN_LISTS)
def test_every_list_renders_with_search_and_filters(client, admin_user, two_tenants_rules, url):
    client.force_login(admin_user)
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "tenant"}).status_code == 200


def test_non_superuser_sees_only_their_tenants(client, staff_owner, two_tenants_rules):
    mine, theirs = two_tenants_rules
    client.force_login(staff_owner)
    rules_page = client.get("/admin/automations/automationrule/").content.decode()
    assert "Mine" in rules_page and "Theirs" not in rules_page
    tenants_page = client.get("/admin/governance/tenant/").content.decode()
    assert "tenant_test" in tenants_page and "tenant_other" not in tenants_page
    assert (
        client.get(f"/admin/automations/automationrule/{quote(theirs.pk)}/change/").status_code == 302
    )  # "doesn't exist"
    assert client.get(f"/admin/automations/automationrule/{quote(mine.pk)}/change/").status_code == 200
    councils_page = client.get("/admin/governance/council/").content.decode()
    assert "Test Shop" in councils_page and "Other Shop" not in councils_page


def test_non_superuser_can_only_pick_their_tenant_when_adding(client, staff_owner, two_tenants_rules):
    client.force_login(staff_owner)
    page = client.get("/admin/automations/automationrule/add/").content.decode()
    assert 'value="tenant_test"' in page and 'value="tenant_other"' not in page


def test_admin_add_goes_through_validation_and_versioning(client, staff_owner, tenant):
    client.force_login(staff_owner)
    form = {
        "tenant": "tenant_test",
        "name": "From admin",
        "description": "",
        "category": "store",
        "enabled": "on",
        "trigger_type": "event",
        "trigger_config": '{"event_type": "product_added"}',
        "conditions": '[{"type": "store_status", "operator": "~", "value": "active"}]',
        "action_type": "send_notification",
        "action_config": '{"recipients": ["owner"]}',
        "risk_level": "low",
        "auto_approval_rules": "{}",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    refused = client.post("/admin/automations/automationrule/add/", form)
    assert refused.status_code == 200
    assert "conditions[0].operator" in refused.content.decode()
    assert not AutomationRule.objects.exists()
    form["conditions"] = '[{"type": "store_status", "operator": "=", "value": "active"}]'
    accepted = client.post("/admin/automations/automationrule/add/", form)
    assert accepted.status_code == 302
    rule = AutomationRule.objects.get(name="From admin")
    assert (rule.version, rule.created_by, rule.event_type) == (1, staff_owner, "product_added")
    assert rule.versions.count() == 1


def test_admin_delete_archives(client, staff_owner, two_tenants_rules):
    mine, _ = two_tenants_rules
    client.force_login(staff_owner)
    response = client.post(f"/admin/automations/automationrule/{quote(mine.pk)}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert AutomationRule.all_objects.get(pk=mine.pk).deleted_at is not None
