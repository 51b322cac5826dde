"""A rule's history and undo (issue 16 item 5): versions with field-level and plain-English changes,
restore as a new version under the same role checks as an edit, and on/off/archive changes with actors."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from automations.models import RuleVersion
from automations.rule_history import ASPECTS, rule_version_history
from automations.services import UnknownVersion, rule_archive, rule_restore_version, rule_set_enabled, rule_update
from governance.models import Council
from tests.api import patch_json, post_json, token_client
from tests.factories import make_execution, make_rule, make_tenant, make_user

pytestmark = pytest.mark.django_db

EVENT_RULE = {
    "name": "Welcome",
    "trigger_type": "event",
    "trigger_config": {"event_type": "customer_created"},
    "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"], "message": "New customer"},
    "risk_level": "low",
}


@pytest.fixture
def tenant():
    return make_tenant("tenant_a")


@pytest.fixture
def owner(tenant):
    return make_user("olivia", tenant, "owner")


def edited_three_times(tenant, owner):
    rule = make_rule(tenant, owner, **EVENT_RULE)
    rule_update(rule, {"name": "Welcome v2"}, owner)
    rule_update(rule, {"conditions": [{"type": "customer.total_spent", "operator": ">=", "value": 100}]}, owner)
    rule_update(rule, {"action_config": {"recipients": ["owner"], "message": "Big spender"}}, owner)
    return rule


def test_every_definition_field_belongs_to_one_aspect_of_the_history():
    from automations.models import DEFINITION_FIELDS

    fields = [field for aspect in ASPECTS for field in aspect.fields]
    assert sorted(fields) == sorted(DEFINITION_FIELDS)


def test_restoring_v1_of_a_rule_edited_three_times_gives_v1_as_v5_and_runs_keep_their_versions(tenant, owner):
    rule = edited_three_times(tenant, owner)
    v1, v3 = (RuleVersion.objects.get(rule=rule, version=number) for number in (1, 3))
    ran_v1 = make_execution(rule, rule_version=v1)
    ran_v3 = make_execution(rule, rule_version=v3)

    rule_restore_version(rule, 1, owner)

    rule.refresh_from_db()
    v5 = RuleVersion.objects.get(rule=rule, version=5)
    assert rule.version == 5 and rule.definition() == v1.definition == v5.definition
    assert (v5.restored_from, v5.changed_by) == (1, owner)
    ran_v1.refresh_from_db()
    ran_v3.refresh_from_db()
    assert (ran_v1.rule_version_id, ran_v3.rule_version_id) == (v1.pk, v3.pk)


def test_each_version_says_what_it_changed_field_by_field_and_in_words(tenant, owner):
    rule = edited_three_times(tenant, owner)
    history = rule_version_history(rule)

    assert [entry.version.version for entry in history] == [4, 3, 2, 1]
    assert [entry.change for entry in history] == ["edited", "edited", "edited", "created"]
    assert [entry.current for entry in history] == [True, False, False, False]
    v3 = history[1]
    assert [change.field for change in v3.changes] == ["conditions"]
    assert v3.changes[0].was == EVENT_RULE["conditions"]
    assert len(v3.description) == 1
    assert v3.description[0].startswith("Conditions was Store is active; now ")
    assert "100" in v3.description[0]
    assert history[2].description == ("Name was 'Welcome'; now 'Welcome v2'",)
    assert history[3].changes == () and history[3].description == ()


def test_restoring_the_current_definition_makes_no_version(tenant, owner):
    rule = make_rule(tenant, owner, **EVENT_RULE)
    rule_restore_version(rule, 1, owner)
    assert list(RuleVersion.objects.filter(rule=rule).values_list("version", flat=True)) == [1]


def test_an_unknown_version_is_refused(tenant, owner):
    rule = make_rule(tenant, owner, **EVENT_RULE)
    with pytest.raises(UnknownVersion):
        rule_restore_version(rule, 7, owner)


def test_restoring_needs_the_right_to_edit_both_risk_levels(tenant, owner):
    collaborator = make_user("carl", tenant, "collaborator")
    rule = make_rule(tenant, owner, **{**EVENT_RULE, "risk_level": "high"})
    rule_update(rule, {"risk_level": "low"}, owner)
    # v2 is low risk, but v1 was high: a collaborator (low and medium only) may not bring it back
    with pytest.raises(PermissionDenied):
        rule_restore_version(rule, 1, collaborator)
    rule.refresh_from_db()
    assert (rule.version, rule.risk_level) == (2, "low")


def test_a_version_whose_council_is_gone_is_refused_naming_the_field(tenant, owner):
    council = Council.objects.create(tenant=tenant, name="Night council")
    rule = make_rule(tenant, owner, **{**EVENT_RULE, "assigned_council_id": council.pk})
    rule_update(rule, {"assigned_council_id": None}, owner)
    council.delete()
    with pytest.raises(ValidationError) as error:
        rule_restore_version(rule, 1, owner)
    assert error.value.message_dict == {"assigned_council": ["No such council in this tenant."]}


def test_on_off_and_archive_are_in_the_history_with_their_actor(tenant, owner):
    rule = make_rule(tenant, owner, **EVENT_RULE)
    rule_set_enabled(rule, False, owner)
    rule_set_enabled(rule, False, owner)  # already off: nothing to record
    rule_update(rule, {"enabled": True}, owner)
    rule_archive(rule, owner)
    changes = list(rule.state_changes.order_by("id").values_list("kind", "version", "changed_by__username"))
    assert changes == [("disabled", 1, "olivia"), ("enabled", 1, "olivia"), ("archived", 1, "olivia")]


# --- the API ---------------------------------------------------------------------------------------


def test_api_lists_versions_newest_first_with_changes_and_state_changes(tenant, owner):
    rule = edited_three_times(tenant, owner)
    client = token_client(owner)
    post_json(client, f"/api/automations/{rule.pk}/disable")

    response = client.get(f"/api/automations/{rule.pk}/versions")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["rule_id"], body["current_version"]) == (rule.pk, 4)
    assert [version["version"] for version in body["versions"]] == [4, 3, 2, 1]
    latest = body["versions"][0]
    assert latest["change"] == "edited" and latest["changed_by"] == "olivia" and latest["current"] is True
    assert latest["changes"] == [
        {
            "field": "action_config",
            "was": {"recipients": ["owner"], "message": "New customer"},
            "now": {"recipients": ["owner"], "message": "Big spender"},
        }
    ]
    assert latest["description"] == ["Action: message was 'New customer', now 'Big spender'"]
    assert latest["definition"]["action_config"]["message"] == "Big spender"
    assert [(change["kind"], change["changed_by"]) for change in body["state_changes"]] == [("disabled", "olivia")]


def test_api_restore_answers_the_rule_at_its_new_version(tenant, owner):
    rule = edited_three_times(tenant, owner)
    client = token_client(owner)

    response = post_json(client, f"/api/automations/{rule.pk}/versions/1/restore")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"] == "Version 1 restored as version 5"
    assert body["automation"]["version"] == 5 and body["automation"]["name"] == "Welcome"
    versions = client.get(f"/api/automations/{rule.pk}/versions").json()["versions"]
    assert (versions[0]["change"], versions[0]["restored_from"]) == ("restored", 1)


@pytest.mark.parametrize("number", ["9", "0", "12345678901234567890"])
def test_api_restore_of_a_version_that_does_not_exist_is_404(tenant, owner, number):
    rule = make_rule(tenant, owner, **EVENT_RULE)
    response = post_json(token_client(owner), f"/api/automations/{rule.pk}/versions/{number}/restore")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_api_restore_refuses_a_role_that_may_not_edit_the_restored_risk(tenant, owner):
    collaborator = make_user("carl", tenant, "collaborator")
    rule = make_rule(tenant, owner, **{**EVENT_RULE, "risk_level": "high"})
    rule_update(rule, {"risk_level": "low"}, owner)
    response = post_json(token_client(collaborator), f"/api/automations/{rule.pk}/versions/1/restore")
    assert response.status_code == 403
    viewer = make_user("vera", tenant, "viewer")
    assert post_json(token_client(viewer), f"/api/automations/{rule.pk}/versions/2/restore").status_code == 403
    assert token_client(viewer).get(f"/api/automations/{rule.pk}/versions").status_code == 200


def test_api_history_of_another_tenants_rule_is_404(tenant, owner):
    rule = make_rule(tenant, owner, **EVENT_RULE)
    stranger = make_user("sam", make_tenant("tenant_b"), "owner")
    client = token_client(stranger)
    assert client.get(f"/api/automations/{rule.pk}/versions").status_code == 404
    assert post_json(client, f"/api/automations/{rule.pk}/versions/1/restore").status_code == 404


def test_api_patch_of_enabled_is_recorded(tenant, owner):
    rule = make_rule(tenant, owner, **EVENT_RULE)
    assert patch_json(token_client(owner), f"/api/automations/{rule.pk}", {"enabled": False}).status_code == 200
    assert list(rule.state_changes.values_list("kind", flat=True)) == ["disabled"]
