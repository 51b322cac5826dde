"""instances_from_sql builds the same instances as Model.objects.raw() for the same SQL, on either database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

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


def event_rule(tenant, owner, name, event_type="order_placed", **fields):
    return make_rule(
        tenant, owner, name=name, trigger_type="event", trigger_config={"event_type": event_type}, **fields
    )


def test_event_rules_compiled_once_equal_the_orm_query_for_any_tenant_and_type(tenant, other_tenant, owner):
    from django.db.models import OuterRef, Subquery

    from automations.models import RuleVersion
    from executions.selectors import event_rules

    wanted = [event_rule(tenant, owner, "A"), event_rule(tenant, owner, "B")]
    wanted[1].name = "B, edited"  # a second version: the annotation must name the current one
    wanted[1].conditions = []
    wanted[1].save()
    event_rule(tenant, owner, "Off", enabled=False)
    event_rule(tenant, owner, "Other type", event_type="product_added")
    event_rule(other_tenant, None, "Other tenant")
    AutomationRule.objects.filter(pk=event_rule(tenant, owner, "Archived").pk).update(
        deleted_at=dt.datetime.now(dt.UTC)
    )

    def orm(tenant_id, event_type):
        current = RuleVersion.objects.filter(rule_id=OuterRef("pk"), version=OuterRef("version")).values("id")[:1]
        rules = AutomationRule.objects.filter(
            tenant_id=tenant_id, enabled=True, trigger_type="event", event_type=event_type
        ).annotate(current_version_id=Subquery(current))
        return sorted(((field_values(r), r.current_version_id) for r in rules), key=lambda pair: pair[0]["id"])

    for tenant_id, event_type, count in [
        (tenant.pk, "order_placed", 2),  # the first call compiles, the later ones reuse the SQL
        (other_tenant.pk, "order_placed", 1),
        (tenant.pk, "product_added", 1),
        (tenant.pk, "nothing_here", 0),
    ]:
        found = event_rules(tenant_id, event_type)
        assert sorted(((field_values(r), r.current_version_id) for r in found), key=lambda p: p[0]["id"]) == orm(
            tenant_id, event_type
        )
        assert len(found) == count
        assert all(type(r).tenant.is_cached(r) and r.tenant.pk == tenant_id for r in found)  # no query later
    edited = next(r for r in event_rules(tenant.pk, "order_placed") if r.pk == wanted[1].pk)
    assert edited.current_version_id == RuleVersion.objects.get(rule=edited, version=edited.version).pk


def test_a_compiled_query_refuses_a_value_that_does_not_reach_its_sql_as_a_parameter(rule):
    from governance.common.sql_instances import CompiledQuery

    inlined = CompiledQuery("inlined", 1, lambda limit: AutomationRule.objects.all()[: len(limit)])
    with pytest.raises(ValueError, match="once, as a parameter"):
        inlined.rows("x")
    fine = CompiledQuery("by_name", 1, lambda name: AutomationRule.objects.filter(name=name))
    assert [r.pk for r in fine.rows(rule.name)] == [rule.pk]
    assert fine.rows("no such name") == []


def test_insert_new_instances_stores_what_save_stores_and_skips_taken_keys(tenant, owner):
    from executions.models import AutomationExecution, Event
    from governance.common.sql_instances import insert_new_instances

    moment = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    fields = {"event_type": "order_placed", "payload": {"total": 12.5, "items": ["a", "b"], "note": 'naïve "x"'}}
    unique = ("tenant", "idempotency_key")
    [by_hand] = insert_new_instances(
        [Event(tenant=tenant, idempotency_key="k1", occurred_at=moment, actor=owner, **fields)], unique
    )
    by_orm = Event.objects.create(tenant=tenant, idempotency_key="k2", occurred_at=moment, actor=owner, **fields)

    assert by_hand.pk is not None and not by_hand._state.adding and by_hand.pk != by_orm.pk
    stored, expected = Event.objects.get(pk=by_hand.pk), Event.objects.get(pk=by_orm.pk)
    differing = {name for name, value in field_values(stored).items() if field_values(expected)[name] != value}
    assert differing == {"id", "idempotency_key", "received_at"}  # the defaults (received_at: now) were applied
    assert stored.received_at.tzinfo is not None and stored.payload == fields["payload"]

    # A list: keys stored before (k1, k2) and repeated within it (k3 twice) are skipped, the rest inserted in order.
    batch = [
        Event(tenant=tenant, idempotency_key=key, event_type="order_placed") for key in ("k1", "k3", "k2", "k3", "k4")
    ]
    inserted = insert_new_instances(batch, unique)
    assert inserted == [batch[1], batch[4]]
    assert [e.pk for e in inserted] == sorted(e.pk for e in inserted) and batch[3].pk is None and batch[0].pk is None
    assert Event.objects.filter(tenant=tenant).count() == 4  # nothing half-written, no transaction aborted
    assert Event.objects.get(pk=batch[1].pk).idempotency_key == "k3"
    with pytest.raises(ValueError, match="without a value"):
        insert_new_instances([AutomationExecution(occurrence_key=None)], ("automation_rule", "occurrence_key"))
    with pytest.raises(ValueError, match="no UniqueConstraint"):
        insert_new_instances([Event(tenant=tenant, idempotency_key="k9")], ("idempotency_key",))


def test_insert_new_instances_splits_a_long_list_into_statements(tenant, monkeypatch):
    from executions.models import Event
    from governance.common import sql_instances

    monkeypatch.setattr(sql_instances, "INSERT_ROWS_PER_STATEMENT", 3)
    batch = [Event(tenant=tenant, idempotency_key=f"s{i}", event_type="order_placed") for i in range(8)]
    with CaptureQueriesContext(connection) as queries:
        inserted = sql_instances.insert_new_instances(batch, ("tenant", "idempotency_key"))
    assert inserted == batch and len({e.pk for e in batch}) == 8
    assert sum(q["sql"].startswith("INSERT") for q in queries.captured_queries) == 3
