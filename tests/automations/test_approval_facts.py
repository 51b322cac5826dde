"""should_auto_approve on real rules: the facts come from trusted sources (the rule, the actor, the
server clock, our own executions), never from the context (docs/governance.md)."""

import datetime as dt

import pytest

from automations import approval_facts
from automations.approval_facts import trusted_facts
from executions.choices import ExecutionStatus, TriggerSource
from executions.models import AutomationExecution
from governance.models import TrustedUser
from tests.factories import make_rule

# Thursday 2026-11-26 at 10:00 UTC is inside default business hours (Mon-Fri 09:00-17:00 UTC).
THURSDAY_10_UTC = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


def test_spec_low_risk_rule_is_auto_approved_with_empty_context(rule):
    assert rule.should_auto_approve({}) is True


def test_max_budget_reads_only_the_rules_own_budget(tenant):
    rule = make_rule(
        tenant,
        action_type="add_product",
        action_config={"template_id": "holiday_product", "count": 5, "budget": 80},
        auto_approval_rules={"max_budget": 100},
    )
    assert rule.should_auto_approve({}) is True  # 80 from action_config
    assert rule.should_auto_approve({"budget": 150}) is True  # a context's budget is data, not the budget
    costly = make_rule(
        tenant,
        name="Costly",
        action_type="add_product",
        action_config={"template_id": "holiday_product", "count": 5, "budget": 500},
        auto_approval_rules={"max_budget": 100},
    )
    assert costly.should_auto_approve({"budget": 1}) is False  # a forged small budget changes nothing
    assert "500" in costly.approval_decision({"budget": 1}).reason


def test_max_budget_without_a_configured_budget_is_not_auto_approved(tenant):
    rule = make_rule(tenant, auto_approval_rules={"max_budget": 100})
    for context in ({}, {"budget": 1}):
        decision = rule.approval_decision(context)
        assert decision.auto_approved is False
        assert "unknown" in decision.reason


def test_trusted_users_only_checks_the_authenticated_actor(tenant, owner, collaborator):
    TrustedUser.objects.create(tenant=tenant, user=owner)
    rule = make_rule(tenant, risk_level="high", auto_approval_rules={"trusted_users_only": True})
    assert rule.should_auto_approve({}, trusted_facts(rule, actor_id=owner.pk)) is True
    assert rule.should_auto_approve({}, trusted_facts(rule, actor_id=collaborator.pk)) is False
    assert rule.should_auto_approve({}, trusted_facts(rule, actor_id=None)) is False
    # A user_id in the context is data: it never makes anyone trusted.
    assert rule.should_auto_approve({"user_id": owner.pk}) is False
    assert rule.should_auto_approve({"user_id": owner.pk}, trusted_facts(rule, actor_id=collaborator.pk)) is False


def test_trust_in_another_tenant_does_not_count(tenant, other_tenant, other_owner):
    TrustedUser.objects.create(tenant=other_tenant, user=other_owner)
    rule = make_rule(tenant, risk_level="high", auto_approval_rules={"trusted_users_only": True})
    assert rule.should_auto_approve({}, trusted_facts(rule, actor_id=other_owner.pk)) is False


def test_business_hours_use_the_tenant_zone_and_days(tenant):
    rule = make_rule(tenant, auto_approval_rules={"business_hours_only": True})
    assert rule.should_auto_approve({}, trusted_facts(rule, moment=THURSDAY_10_UTC)) is True
    evening = THURSDAY_10_UTC + dt.timedelta(hours=8)
    assert rule.should_auto_approve({}, trusted_facts(rule, moment=evening)) is False
    saturday = THURSDAY_10_UTC + dt.timedelta(days=2)
    assert rule.should_auto_approve({}, trusted_facts(rule, moment=saturday)) is False
    tenant.timezone = "Asia/Tokyo"  # 10:00 UTC is 19:00 in Tokyo: closed
    tenant.save()
    rule.tenant.refresh_from_db()
    assert rule.should_auto_approve({}, trusted_facts(rule, moment=THURSDAY_10_UTC)) is False


def test_business_hours_follow_the_server_clock_not_the_context(tenant, monkeypatch):
    rule = make_rule(tenant, auto_approval_rules={"business_hours_only": True})
    saturday = THURSDAY_10_UTC + dt.timedelta(days=2)
    monkeypatch.setattr(approval_facts, "server_now", lambda: saturday)
    assert rule.should_auto_approve({"now": THURSDAY_10_UTC.isoformat()}) is False
    monkeypatch.setattr(approval_facts, "server_now", lambda: THURSDAY_10_UTC)
    assert rule.should_auto_approve({"now": saturday.isoformat()}) is True


def _execution(rule, status, triggered_at):
    return AutomationExecution.objects.create(
        automation_rule=rule,
        tenant=rule.tenant,
        trigger_source=TriggerSource.MANUAL,
        triggered_at=triggered_at,
        status=status,
        success={"succeeded": True, "failed": False, "skipped": False}.get(status),
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], True),
        (["succeeded"], True),
        (["succeeded", "failed"], False),
        (["skipped", "skipped", "succeeded"], True),  # skipped runs did not act
    ],
)
def test_max_frequency_per_day_counts_todays_runs(tenant, statuses, expected):
    rule = make_rule(tenant, auto_approval_rules={"max_frequency_per_day": 2})
    for status in statuses:
        _execution(rule, status, THURSDAY_10_UTC - dt.timedelta(hours=1))
    _execution(rule, ExecutionStatus.SUCCEEDED, THURSDAY_10_UTC - dt.timedelta(days=1))  # yesterday
    assert rule.should_auto_approve({}, trusted_facts(rule, moment=THURSDAY_10_UTC)) is expected


def test_max_frequency_day_boundary_is_the_tenant_midnight(tenant):
    tenant.timezone = "America/New_York"
    tenant.save()
    rule = make_rule(tenant, auto_approval_rules={"max_frequency_per_day": 1})
    # 03:00 UTC on the 26th is 22:00 on the 25th in New York: yesterday there.
    _execution(rule, ExecutionStatus.SUCCEEDED, dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC))
    assert rule.should_auto_approve({}, trusted_facts(rule, moment=THURSDAY_10_UTC)) is True
    _execution(rule, ExecutionStatus.SUCCEEDED, dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC))
    assert rule.should_auto_approve({}, trusted_facts(rule, moment=THURSDAY_10_UTC)) is False


def test_critical_rule_is_never_auto_approved(tenant):
    rule = make_rule(tenant, risk_level="critical", auto_approval_rules={"max_frequency_per_day": 10})
    assert rule.should_auto_approve({}) is False
