"""Gather the facts a rule's auto-approval rules need and apply the governance decision table."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from automations.validators import BUDGET_KEY, is_number
from governance.decisions import ApprovalDecision, decide_auto_approval
from governance.selectors import is_trusted_user, is_within_business_hours

if TYPE_CHECKING:
    from automations.models import AutomationRule


def _moment_from_context(context: dict[str, Any]) -> dt.datetime:
    """``now`` from the context when it is an aware datetime or ISO string, else the clock."""
    value = context.get("now")
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return timezone.now()


class RuleGovernanceFacts:
    """Facts about one rule and one trigger context, each looked up only when asked for."""

    def __init__(self, rule: AutomationRule, context: dict[str, Any]) -> None:
        self.rule = rule
        self.context = context

    def budget(self) -> float | None:
        for source in (self.context, self.rule.action_config or {}):
            value = source.get(BUDGET_KEY) if isinstance(source, dict) else None
            if is_number(value):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    continue
        return None

    def user_is_trusted(self) -> bool:
        return is_trusted_user(self.rule.tenant_id, self.context.get("user_id"))

    def within_business_hours(self) -> bool:
        return is_within_business_hours(self.rule.tenant, _moment_from_context(self.context))

    def executions_today(self) -> int:
        from executions.selectors import rule_executions_run_today_count

        return rule_executions_run_today_count(self.rule, _moment_from_context(self.context))


def rule_approval_decision(rule: AutomationRule, context: dict[str, Any]) -> ApprovalDecision:
    """Whether ``rule`` may run its action for ``context`` without a council, and why."""
    return decide_auto_approval(
        rule.risk_level, rule.requires_approval, rule.auto_approval_rules, RuleGovernanceFacts(rule, context or {})
    )
