"""Creating, editing, enabling and archiving rules through the services."""

import pytest
from django.core.exceptions import ValidationError

from automations.models import AutomationRule, RuleVersion
from automations.services import rule_archive, rule_create, rule_set_enabled, rule_update
from executions.models import AutomationExecution
from tests.factories import LOW_PRODUCT_ALERT, make_rule

MINIMAL = {
    "name": "Test Alert",
    "trigger_type": "threshold",
    "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"]},
}


def test_create_applies_the_documented_defaults(tenant, owner):
    rule = rule_create(tenant, MINIMAL, owner)
    rule.refresh_from_db()
    assert rule.id.startswith("automation_") and len(rule.id) == len("automation_") + 32
    assert (rule.description, rule.category, rule.conditions, rule.enabled) == ("", "", [], True)
    assert (rule.risk_level, rule.requires_approval, rule.auto_approval_rules) == ("low", False, {})
    assert (rule.version, rule.created_by, rule.deleted_at) == (1, owner, None)
    assert (rule.execution_count, rule.success_count, rule.failure_count) == (0, 0, 0)
    assert rule.average_execution_time_ms == 0.0


def test_create_snapshots_version_one(tenant, owner):
    rule = rule_create(tenant, MINIMAL, owner)
    version = RuleVersion.objects.get(rule=rule)
    assert (version.version, version.changed_by) == (1, owner)
    assert version.definition["trigger_config"] == MINIMAL["trigger_config"]
    assert version.definition["assigned_council_id"] is None


def test_create_refuses_bad_input_naming_the_path_and_writes_nothing(tenant):
    bad = {**MINIMAL, "trigger_config": {"metric": "product_count", "operator": "~", "value": 3}}
    with pytest.raises(ValidationError) as caught:
        rule_create(tenant, bad)
    assert caught.value.message_dict["trigger_config"] == [
        'trigger_config.operator: "~" is not one of <, >, <=, >=, =, !='
    ]
    assert AutomationRule.all_objects.count() == 0
    assert RuleVersion.objects.count() == 0


def test_create_refuses_unknown_fields_and_system_fields(tenant):
    with pytest.raises(ValidationError) as caught:
        rule_create(tenant, {**MINIMAL, "execution_count": 99, "colour": "red"})
    assert set(caught.value.message_dict) == {"execution_count", "colour"}


def test_create_refuses_bad_scalar_fields(tenant):
    with pytest.raises(ValidationError) as caught:
        rule_create(tenant, {**MINIMAL, "name": "", "category": "sports", "risk_level": "extreme", "enabled": "yes"})
    assert set(caught.value.message_dict) >= {"name", "category", "risk_level", "enabled"}


def test_council_of_another_tenant_is_refused(tenant, other_tenant):
    foreign = other_tenant.councils.get(is_default=True)
    with pytest.raises(ValidationError) as caught:
        rule_create(tenant, {**MINIMAL, "assigned_council": foreign})
    assert "assigned_council" in caught.value.message_dict


def test_event_type_column_follows_trigger_config(tenant):
    rule = make_rule(tenant, trigger_type="event", trigger_config={"event_type": "product_added", "source": "store"})
    assert AutomationRule.objects.get(pk=rule.pk).event_type == "product_added"
    rule_update(rule, {"trigger_config": {"event_type": "order_placed"}})
    assert AutomationRule.objects.get(pk=rule.pk).event_type == "order_placed"
    rule_update(rule, {"trigger_type": "schedule", "trigger_config": {"pattern": "daily", "time": "08:00"}})
    assert AutomationRule.objects.get(pk=rule.pk).event_type == ""


def test_every_definition_edit_bumps_the_version_with_a_snapshot(rule, collaborator):
    rule_update(rule, {"name": "Renamed"}, collaborator)
    rule_update(rule, {"conditions": []}, collaborator)
    rule.refresh_from_db()
    assert rule.version == 3
    versions = list(RuleVersion.objects.filter(rule=rule).order_by("version"))
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[1].definition["name"] == "Renamed"
    assert versions[2].definition["conditions"] == []
    assert versions[2].changed_by == collaborator


def test_an_edit_that_changes_nothing_keeps_the_version(rule):
    rule_update(rule, {"name": rule.name})
    assert AutomationRule.objects.get(pk=rule.pk).version == 1


def test_enabling_is_not_a_definition_change(rule):
    rule_set_enabled(rule, False)
    rule.refresh_from_db()
    assert (rule.enabled, rule.version) == (False, 1)


def test_failed_update_leaves_the_stored_rule_untouched(rule):
    with pytest.raises(ValidationError):
        rule_update(rule, {"name": "New", "action_config": {"recipients": []}})
    stored = AutomationRule.objects.get(pk=rule.pk)
    assert (stored.name, stored.version) == (LOW_PRODUCT_ALERT["name"], 1)


def test_update_does_not_overwrite_concurrently_recorded_totals(rule):
    stale = AutomationRule.objects.get(pk=rule.pk)
    rule.record_execution(True, 100.0)
    rule_update(stale, {"name": "Edited from a stale copy"})
    stored = AutomationRule.objects.get(pk=rule.pk)
    assert (stored.execution_count, stored.success_count, stored.name) == (1, 1, "Edited from a stale copy")


def test_archive_hides_the_rule_and_keeps_its_executions(rule):
    execution = AutomationExecution.objects.create(automation_rule=rule, tenant=rule.tenant, trigger_source="manual")
    rule_archive(rule)
    assert not AutomationRule.objects.filter(pk=rule.pk).exists()
    archived = AutomationRule.all_objects.get(pk=rule.pk)
    assert archived.deleted_at is not None and archived.enabled is False
    execution.refresh_from_db()
    assert execution.automation_rule.pk == rule.pk  # the audit trail still reaches the archived rule
