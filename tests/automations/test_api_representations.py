"""The get endpoint's fast paths give exactly what the generic ones gave: the serializers' hand-built dicts
equal DRF's field-by-field output, the one-query selectors equal the ORM selectors, and token
authentication through hand-written SQL accepts and refuses what DRF's does."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework import serializers

from automations.api.serializers import AutomationRuleSerializer
from automations.models import AutomationRule
from automations.selectors import rule_for_user, rule_without_tenant_for_user
from executions.api.serializers import ExecutionSerializer
from executions.models import Event
from executions.selectors import (
    rule_execution_overview,
    rule_overview_and_recent_executions,
    rule_recent_executions,
)
from governance.models import Council
from tests.api import token_client, token_for
from tests.factories import make_execution, make_rule, make_user

pytestmark = pytest.mark.django_db


def generic(serializer_class: type[serializers.ModelSerializer], instance: object) -> list[tuple[str, object]]:
    """DRF's own output for ``instance``: every declared field's to_representation, in order."""
    return list(serializers.ModelSerializer.to_representation(serializer_class(), instance).items())


def fast(serializer_class: type[serializers.ModelSerializer], instance: object) -> list[tuple[str, object]]:
    return list(serializer_class(instance).data.items())


@pytest.fixture
def full_rule(tenant, owner):
    """A rule with every optional column filled, microseconds in its datetimes."""
    council = Council.objects.create(tenant=tenant, name="Approvers")
    rule = make_rule(tenant, owner, name="Full", risk_level="high", requires_approval=True)
    AutomationRule.objects.filter(pk=rule.pk).update(
        assigned_council=council,
        last_triggered_at=dt.datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=dt.UTC),
        last_executed_at=dt.datetime(2026, 3, 4, 5, 6, 8, tzinfo=dt.UTC),
        execution_count=7,
        success_count=5,
        failure_count=2,
        average_execution_time_ms=12.5,
        auto_approval_rules={"max_per_day": 3},
        category="",
    )
    return AutomationRule.objects.get(pk=rule.pk)


def test_rule_representation_equals_drf_fields(rule, full_rule, tenant):
    unsaved_defaults = AutomationRule(tenant=tenant, name="Draft", trigger_type="event", action_type="send_email")
    for instance in (rule, full_rule, AutomationRule.objects.get(pk=rule.pk), unsaved_defaults):
        assert fast(AutomationRuleSerializer, instance) == generic(AutomationRuleSerializer, instance)
    assert dict(fast(AutomationRuleSerializer, full_rule))["last_triggered_at"] == "2026-03-04T05:06:07.891234Z"


def test_rule_list_representation_equals_drf_fields(rule, full_rule):
    rules = list(AutomationRule.objects.order_by("name"))
    many = AutomationRuleSerializer(rules, many=True).data
    assert [list(item.items()) for item in many] == [generic(AutomationRuleSerializer, item) for item in rules]


def test_execution_representation_equals_drf_fields(rule, tenant, owner):
    event = Event.objects.create(tenant=tenant, event_type="order_created", idempotency_key="k1", payload={"a": 1})
    now = timezone.now()
    full = make_execution(
        rule,
        "succeeded",
        event=event,
        occurrence_key="occ-1",
        rule_version=rule.versions.get(),
        trigger_data={"order": {"total": 12.5}},
        conditions_met=True,
        condition_results=[{"passed": True}],
        required_approval=True,
        governance_decision={"decision": "approved"},
        approved_by_user_id=str(owner.pk),
        approved_at=now,
        action_started_at=now,
        action_completed_at=now + dt.timedelta(microseconds=1500),
        action_result={"sent": 1},
        action_attempts=1,
        next_attempt_at=now,
        execution_time_ms=1.25,
    )
    bare = make_execution(rule, "pending", execution_time_ms=None)
    _, recent = rule_overview_and_recent_executions(rule)
    for instance in (full, bare, *recent):
        assert fast(ExecutionSerializer, instance) == generic(ExecutionSerializer, instance)
    assert [dict(fast(ExecutionSerializer, item))["rule_version"] for item in recent] == [None, 1]


def test_overview_and_recent_in_one_query_equal_the_two_selectors(rule, django_assert_num_queries):
    now = timezone.now()
    assert rule_overview_and_recent_executions(rule, now) == (rule_execution_overview(rule, now), [])
    for index in range(13):
        status = ("succeeded", "failed", "skipped", "pending")[index % 4]
        make_execution(rule, status, triggered_at=now - dt.timedelta(hours=index * 5), execution_time_ms=10.0 * index)
    make_execution(rule, "succeeded", triggered_at=now - dt.timedelta(hours=1))  # a tie broken by id
    with django_assert_num_queries(1):
        overview, recent = rule_overview_and_recent_executions(rule, now)
    assert overview == rule_execution_overview(rule, now)
    assert overview["total_executions"] > 0 and overview["avg_execution_time_ms"] is not None
    assert [item.pk for item in recent] == [item.pk for item in rule_recent_executions(rule)]
    assert [item.rule_version_number for item in recent] == [None] * 10


def test_rule_without_tenant_is_scoped_like_rule_for_user(rule, owner, other_owner, council_member):
    admin = make_user("root", is_superuser=True, is_staff=True)
    for user in (owner, council_member, other_owner, admin):
        expected = rule_for_user(user, rule.pk)
        found = rule_without_tenant_for_user(user, rule.pk)
        assert (found and (found.pk, found.caller_role)) == (expected and (expected.pk, expected.caller_role))
    assert rule_without_tenant_for_user(other_owner, rule.pk) is None
    assert rule_without_tenant_for_user(owner, "automation_missing") is None
    AutomationRule.objects.filter(pk=rule.pk).update(deleted_at=timezone.now())
    assert rule_without_tenant_for_user(owner, rule.pk) is None
    assert rule_without_tenant_for_user(admin, rule.pk) is None


def test_token_authentication_gives_the_user_and_token(rule, owner):
    from governance.api.authentication import BearerOrTokenAuthentication
    from governance.models import ApiToken, api_token_digest

    key = token_for(owner)
    user, token = BearerOrTokenAuthentication().authenticate_credentials(key)
    stored = ApiToken.objects.get(digest=api_token_digest(key))
    assert (user.pk, user.username, token.pk, token.user_id, token.user) == (
        owner.pk,
        "alice",
        stored.pk,
        owner.pk,
        user,
    )
    assert token.name == "tests" and token.created_at == stored.created_at  # deferred, read on demand
    assert not hasattr(user, "api_token_id")  # the query's token columns are not left on the user
    assert token_client(owner).get(f"/api/automations/{rule.pk}").status_code == 200


def test_token_of_inactive_user_or_unknown_key_is_401(rule, owner):
    client = token_client(owner)
    assert client.get(f"/api/automations/{rule.pk}").status_code == 200
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    response = client.get(f"/api/automations/{rule.pk}")
    assert (response.status_code, response.json()) == (401, {"detail": "User inactive or deleted."})
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(owner).upper()}x")
    response = client.get(f"/api/automations/{rule.pk}")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})
