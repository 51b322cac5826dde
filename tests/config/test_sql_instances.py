"""instances_from_sql builds the same instances as Model.objects.raw() for the same SQL, on either database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from automations.models import AutomationRule
from executions.models import AutomationExecution
from governance.common.sql_instances import instances_from_sql, select_list
from tests.factories import make_execution, make_rule

pytestmark = pytest.mark.django_db


def field_values(instance: object) -> dict[str, object]:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def rule_sql() -> str:
    return (
        f"SELECT {select_list(AutomationRule, 'r', connection)}, 'x' AS extra_text, 2 AS extra_number "
        f"FROM {connection.ops.quote_name(AutomationRule._meta.db_table)} r ORDER BY r.id"
    )


def test_rules_equal_raw_ones_with_converted_fields_and_extra_columns(rule, owner, tenant):
    make_rule(tenant, owner, name="Second", enabled=False, conditions=[])
    triggered = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    AutomationRule.objects.filter(pk=rule.pk).update(last_triggered_at=triggered)
    expected = list(AutomationRule.all_objects.raw(rule_sql()))
    for _ in range(2):  # the first call works out the plan, the second reuses it
        found = instances_from_sql(AutomationRule, rule_sql(), [])
        assert [field_values(item) for item in found] == [field_values(item) for item in expected]
        assert [(item.extra_text, item.extra_number) for item in found] == [("x", 2), ("x", 2)]
        assert not found[0]._state.adding and found[0]._state.db == "default"
    loaded = AutomationRule.objects.get(pk=rule.pk)
    first = next(item for item in found if item.pk == rule.pk)
    assert field_values(first) == field_values(loaded)
    assert isinstance(first.trigger_config, dict) and first.last_triggered_at.tzinfo is not None


def test_executions_with_nulls_equal_orm_ones(rule):
    full = make_execution(rule, "succeeded", action_result={"ok": True}, governance_decision={"d": 1})
    bare = make_execution(rule, "pending", execution_time_ms=None)
    table = connection.ops.quote_name(AutomationExecution._meta.db_table)
    sql = f"SELECT {select_list(AutomationExecution, 'e', connection)} FROM {table} e ORDER BY e.id"
    found = instances_from_sql(AutomationExecution, sql, [])
    assert [field_values(item) for item in found] == [
        field_values(AutomationExecution.objects.get(pk=pk)) for pk in (full.pk, bare.pk)
    ]


def test_users_and_parameters(owner):
    user_model = get_user_model()
    table = connection.ops.quote_name(user_model._meta.db_table)
    sql = f"SELECT {select_list(user_model, 'u', connection)} FROM {table} u WHERE u.username = %s"
    (found,) = instances_from_sql(user_model, sql, ["alice"])
    assert field_values(found) == field_values(user_model.objects.get(pk=owner.pk))
    assert instances_from_sql(user_model, sql, ["nobody"]) == []


def test_star_and_missing_primary_key_are_refused(rule):
    table = connection.ops.quote_name(AutomationRule._meta.db_table)
    with pytest.raises(ValueError, match="name its columns"):
        instances_from_sql(AutomationRule, f"SELECT r.* FROM {table} r", [])
    with pytest.raises(ValueError, match="primary key"):
        instances_from_sql(AutomationRule, f"SELECT r.name FROM {table} r", [])
