"""Reads about rules: scoped lists, counts, and the test-conditions report."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import connections
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from automations.models import AutomationRule
from governance.common.sql_instances import instances_from_sql, select_list
from governance.common.words import plural
from governance.decisions import GovernanceFacts
from governance.models import Membership, Tenant


def rules_for_user(user: User) -> QuerySet[AutomationRule]:
    """Live rules of the user's tenants (all for a superuser); scoping is a subquery, not an extra query."""
    from governance.selectors import member_tenant_ids

    rules = AutomationRule.objects.all()
    return rules if user.is_superuser else rules.filter(tenant_id__in=member_tenant_ids(user))


def rule_for_user(user: User, rule_id: str) -> AutomationRule | None:
    """One live rule of the user's tenants, with ``caller_role`` (the user's role in its tenant), or None.

    The role annotation is also the scope: a rule outside the user's tenants has no role (NULL).
    """
    from governance.selectors import caller_role_expression

    rules = AutomationRule.objects.select_related("tenant").annotate(caller_role=caller_role_expression(user))
    try:
        return rules.order_by().get(pk=rule_id, caller_role__isnull=False)
    except AutomationRule.DoesNotExist:
        return None


# TRICKY: hand-written SQL on the get endpoint's hot path (as executions.selectors.OVERVIEW_SUMS_SQL): the ORM
# spends three times longer composing rule_for_user's annotated lookup than the database answering it.
# Portable text; the caller's role is the scope, exactly as in rule_for_user.
RULE_WITH_ROLE_SQL = """
SELECT {columns}, {role} AS caller_role
FROM {rules} rule_row
WHERE rule_row.id = %s AND rule_row.deleted_at IS NULL
"""
MEMBER_ROLE_SQL = """(
    SELECT membership.role FROM {memberships} membership
    WHERE membership.tenant_id = rule_row.tenant_id AND membership.user_id = %s
)"""


@functools.cache
def rule_with_role_sql(database: str, superuser: bool) -> str:
    """RULE_WITH_ROLE_SQL for a database alias; a superuser's role is a parameter (owner everywhere)."""
    connection = connections[database]
    quote = connection.ops.quote_name
    return RULE_WITH_ROLE_SQL.format(
        columns=select_list(AutomationRule, "rule_row", connection),
        role="%s" if superuser else MEMBER_ROLE_SQL.format(memberships=quote(Membership._meta.db_table)),
        rules=quote(AutomationRule._meta.db_table),
    )


def rule_without_tenant_for_user(user: User, rule_id: str) -> AutomationRule | None:
    """rule_for_user's rule and ``caller_role`` in one cheaper query, without the tenant row joined
    (reading ``rule.tenant`` would cost a query): for endpoints that only show the rule."""
    from governance.choices import Role

    sql = rule_with_role_sql(AutomationRule.objects.db, user.is_superuser)
    params = [Role.OWNER.value if user.is_superuser else user.pk, rule_id]
    rules = instances_from_sql(AutomationRule, sql, params)
    if not rules or rules[0].caller_role is None:  # type: ignore[attr-defined]  # the SQL's alias
        return None
    return rules[0]


def rule_counts(rules: QuerySet[AutomationRule]) -> dict[str, int]:
    """count, enabled_count and disabled_count of a rule queryset, in one query."""
    totals = rules.order_by().aggregate(count=Count("id"), enabled_count=Count("id", filter=Q(enabled=True)))
    return {
        "count": totals["count"],
        "enabled_count": totals["enabled_count"],
        "disabled_count": totals["count"] - totals["enabled_count"],
    }


@dataclass
class ConditionReport:
    conditions_met: bool
    results: list[dict[str, Any]]
    summary: str
    would_execute: bool
    would_need_approval: bool
    approval_reason: str
    approval_checks: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "conditions_met": self.conditions_met,
            "results": self.results,
            "summary": self.summary,
            "would_execute": self.would_execute,
            "would_need_approval": self.would_need_approval,
            "approval_reason": self.approval_reason,
            "approval_checks": self.approval_checks,
        }


def conditions_summary(results: list[dict[str, Any]]) -> str:
    """ "All 2 conditions passed" or "1 of 2 conditions failed: <reasons>"; with one condition, "The
    condition passed" or "The condition failed: <reason>"."""
    total = len(results)
    if total == 0:
        return "No conditions to check"
    failed = [result for result in results if not result.get("passed")]
    reasons = "; ".join(str(result.get("reason") or result.get("condition")) for result in failed)
    if total == 1:
        return f"The condition failed: {reasons}" if failed else "The condition passed"
    if not failed:
        return f"All {plural(total, 'condition')} passed"
    return f"{len(failed)} of {plural(total, 'condition')} failed: {reasons}"


def rule_condition_report(rule: AutomationRule, context: dict[str, Any], facts: GovernanceFacts) -> ConditionReport:
    """What would happen if ``rule`` (saved or not) were triggered with ``context``.

    The checks are a run's own (``AutomationRule.run_checks``: for a threshold rule the trigger's
    comparison first, then the conditions), so a run with ``context`` is skipped exactly when this
    report's ``conditions_met`` is false, and records these rows. The governance
    answer uses ``facts`` (the caller's trusted facts, ``trusted_facts``), never the sample context.
    """
    results = [result.as_dict() for result in rule.run_checks(context)]
    met = all(result["passed"] for result in results)
    decision = rule.approval_decision(context, facts)
    return ConditionReport(
        conditions_met=met,
        results=results,
        summary=conditions_summary(results),
        would_execute=met and rule.enabled,
        would_need_approval=not decision.auto_approved,
        approval_reason=decision.reason,
        approval_checks=[check.__dict__ for check in decision.checks],
    )


# --- the portal: everything within the session's current tenant ---------------------------------


def rule_list_for_tenant(tenant: Tenant) -> QuerySet[AutomationRule]:
    """The tenant's live (not archived) rules, newest first."""
    return AutomationRule.objects.filter(tenant=tenant).select_related("tenant").order_by("-created_at", "id")


def rule_get_for_tenant(tenant: Tenant, rule_id: str, include_archived: bool = False) -> AutomationRule:
    """The tenant's live rule with ``rule_id`` (or archived too, for its executions' pages); Http404 for
    another tenant's rule or none at all."""
    rules = AutomationRule.all_objects if include_archived else AutomationRule.objects
    rule = rules.filter(tenant=tenant, pk=rule_id).select_related("assigned_council").first()
    if rule is None:
        raise Http404("No such automation.")
    return rule
