"""A rule is validated once, in one place (``AutomationRule.definition_errors``), and every surface shows
the same path-keyed messages: the services raise them as data (``RuleValidationError.paths``), the API
nests them, the builder and the admin show them; a save from the ORM or the shell is refused the same
way, and an edit there still makes a new version."""

from __future__ import annotations

import html
import json

import pytest
from django.contrib.admin.utils import quote

import automations.models
from automations.models import AutomationRule, RuleVersion
from automations.services import rule_create, rule_update
from automations.validators import RuleValidationError
from tests.api import post_json, staff_client, token_client
from tests.factories import LOW_PRODUCT_ALERT
from tests.governance.test_policy_surfaces import admin_rule_form

pytestmark = pytest.mark.django_db

BAD_PATTERN = [{"type": "product_name", "operator": "matches", "value": "("}]


def bad_pattern_message(tenant) -> str:
    with pytest.raises(RuleValidationError) as refused:
        rule_create(tenant, {**LOW_PRODUCT_ALERT, "conditions": BAD_PATTERN})
    [message] = refused.value.paths["conditions[0].value"]
    return message


def test_the_service_raises_the_messages_keyed_by_path_as_data(tenant):
    with pytest.raises(RuleValidationError) as refused:
        rule_create(tenant, {**LOW_PRODUCT_ALERT, "trigger_config": {"metric": "product_count", "operator": "~"}})
    assert set(refused.value.paths) >= {"trigger_config.operator", "trigger_config.value"}
    # Django's surfaces see them grouped by model field, each message naming its path
    assert all(m.startswith("trigger_config.") for m in refused.value.message_dict["trigger_config"])
    assert AutomationRule.all_objects.count() == 0


def test_a_save_validates_once(tenant, owner, monkeypatch):
    calls = []
    real = automations.models.validate_rule_definition
    monkeypatch.setattr(automations.models, "validate_rule_definition", lambda data: calls.append(1) or real(data))

    rule = rule_create(tenant, dict(LOW_PRODUCT_ALERT), owner)
    assert len(calls) == 1
    rule_update(rule, {"name": "Renamed"}, owner)
    assert len(calls) == 2


def test_an_invalid_definition_saved_from_the_orm_is_refused_with_the_same_error(tenant):
    rule = AutomationRule(tenant=tenant, **{**LOW_PRODUCT_ALERT, "conditions": BAD_PATTERN})
    with pytest.raises(RuleValidationError) as refused:
        rule.save()
    assert "conditions[0].value" in refused.value.paths
    assert AutomationRule.all_objects.count() == 0 and RuleVersion.objects.count() == 0

    stored = rule_create(tenant, dict(LOW_PRODUCT_ALERT))
    stored.trigger_config = {"metric": "product_count"}
    with pytest.raises(RuleValidationError) as refused:
        stored.save()
    assert "trigger_config.operator" in refused.value.paths
    assert AutomationRule.all_objects.get(pk=stored.pk).trigger_config == LOW_PRODUCT_ALERT["trigger_config"]


def test_an_edit_through_the_orm_makes_a_new_version(tenant):
    rule = rule_create(tenant, dict(LOW_PRODUCT_ALERT))
    rule.name = "Edited in the shell"
    rule.save()

    rule.refresh_from_db()
    assert rule.version == 2
    latest = RuleVersion.objects.get(rule=rule, version=2)
    assert latest.definition["name"] == "Edited in the shell" and latest.changed_by is None
    # a save that changes nothing of the definition makes no version
    rule.enabled = False
    rule.save(update_fields=["enabled"])
    assert RuleVersion.objects.filter(rule=rule).count() == 2


def test_a_rule_created_from_the_orm_gets_its_first_version(tenant):
    rule = AutomationRule.objects.create(tenant=tenant, **LOW_PRODUCT_ALERT)
    assert list(RuleVersion.objects.filter(rule=rule).values_list("version", flat=True)) == [1]


def test_the_api_nests_the_same_messages(tenant, owner):
    message = bad_pattern_message(tenant)
    response = post_json(
        token_client(owner),
        "/api/automations",
        {**LOW_PRODUCT_ALERT, "tenant_id": tenant.pk, "conditions": BAD_PATTERN},
    )
    assert response.status_code == 400
    assert response.json() == {"conditions[0].value": [message]}


def test_the_builder_shows_the_same_message(tenant, owner):
    message = bad_pattern_message(tenant)
    client = staff_client(owner)
    post = {
        "name": "Bad pattern",
        "category": "product",
        "enabled": "on",
        "trigger_type": "threshold",
        "t_metric": "product_count",
        "t_operator": "<",
        "t_value": "3",
        "cond-0-type": "product_name",
        "cond-0-operator": "matches",
        "cond-0-value": "(",
        "action_type": "send_notification",
        "a_send_notification__recipients": ["owner"],
        "a_send_notification__message": "Low product count",
        "risk_level": "low",
    }
    response = client.post("/portal/automations/builder/new", post)
    assert response.status_code == 400
    assert html.escape(message) in response.content.decode()
    assert AutomationRule.all_objects.count() == 0


def test_a_field_that_does_not_parse_still_shows_every_other_problem(tenant, owner):
    message = bad_pattern_message(tenant)
    post = {
        "name": "Half broken",
        "category": "product",
        "trigger_type": "threshold",
        "t_metric": "product_count",
        "t_operator": "<",
        "t_value": "3",
        "cond-0-type": "product_name",
        "cond-0-operator": "matches",
        "cond-0-value": "(",
        "action_type": "start_workflow",
        "a_start_workflow__workflow_type_id": "w",
        "a_start_workflow__inputs": "{not json",
        "risk_level": "low",
    }
    page = staff_client(owner).post("/portal/automations/builder/new", post).content.decode()
    assert '<li data-error-path="action_config.inputs">' in page  # the field that does not parse
    assert html.escape(message) in page  # and the rule's own problem, from the same validator
    assert AutomationRule.all_objects.count() == 0


def test_the_admin_shows_the_same_message(tenant, owner):
    message = bad_pattern_message(tenant)
    owner.is_superuser = True
    owner.save(update_fields=["is_superuser"])
    form = {**admin_rule_form("Bad pattern", "low", tenant.pk), "conditions": json.dumps(BAD_PATTERN)}
    response = staff_client(owner).post("/admin/automations/automationrule/add/", form)
    assert response.status_code == 200  # the form again, with the error
    assert html.escape(f"conditions[0].value: {message}") in response.content.decode()
    assert AutomationRule.all_objects.count() == 0


@pytest.fixture
def validations(monkeypatch):
    """Counts every run of the one validation (``AutomationRule.definition_errors``)."""
    calls: list[str] = []
    original = AutomationRule.definition_errors

    def counted(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AutomationRule, "definition_errors", counted)
    return calls


def test_an_admin_save_validates_once(tenant, owner, validations):
    owner.is_superuser = True
    owner.save(update_fields=["is_superuser"])
    client = staff_client(owner)

    created = client.post("/admin/automations/automationrule/add/", admin_rule_form("Made here", "low", tenant.pk))
    assert created.status_code == 302
    rule = AutomationRule.objects.get(name="Made here")
    assert validations == ["Made here"]  # the form's check; the service and save() trust that exact state

    validations.clear()
    form = {**admin_rule_form("Made here", "low", tenant.pk), "description": "edited"}
    form.pop("tenant")  # chosen once, read-only on change
    # (the admin escapes "_" in ids: quote, or "automation_12ab…" reads as "automation\x12ab…")
    edited = client.post(f"/admin/automations/automationrule/{quote(rule.pk)}/change/", form)
    assert edited.status_code == 302 and edited.url == "/admin/automations/automationrule/"
    assert validations == ["Made here"]
    rule.refresh_from_db()
    assert (rule.description, rule.version) == ("edited", 2)


def test_a_service_call_validates_once(tenant, validations):
    rule = rule_create(tenant, {**LOW_PRODUCT_ALERT, "name": "Once"})
    rule_update(rule, {"description": "again"})
    assert validations == ["Once", "Once"]  # one per call, none from the saves that follow
