"""The auto-approval decision table, as a pure function over facts (docs/governance.md).

| risk level / flags                          | auto-approved when                                  |
|---------------------------------------------|-----------------------------------------------------|
| critical                                    | never                                               |
| high, or requires_approval true             | auto_approval_rules is non-empty and all rules hold |
| low or medium without requires_approval     | no rule in auto_approval_rules fails                |
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

RISK_CRITICAL = "critical"
RISK_HIGH = "high"

AUTO_APPROVAL_RULE_KEYS = ("max_budget", "trusted_users_only", "business_hours_only", "max_frequency_per_day")


class GovernanceFacts(Protocol):
    """What the decision may need to know; each is asked for only when a rule needs it."""

    def budget(self) -> float | None: ...

    def user_is_trusted(self) -> bool: ...

    def within_business_hours(self) -> bool: ...

    def executions_today(self) -> int: ...


@dataclass(frozen=True)
class KnownFacts:
    """Facts given up front: for tests, previews and callers that already know them."""

    budget_value: float | None = None
    trusted: bool = False
    in_business_hours: bool = True
    executions_today_count: int = 0

    def budget(self) -> float | None:
        return self.budget_value

    def user_is_trusted(self) -> bool:
        return self.trusted

    def within_business_hours(self) -> bool:
        return self.in_business_hours

    def executions_today(self) -> int:
        return self.executions_today_count


@dataclass(frozen=True)
class RuleCheck:
    rule: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class ApprovalDecision:
    auto_approved: bool
    reason: str
    checks: list[RuleCheck] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_auto_approval_rules(rules: dict[str, Any], facts: GovernanceFacts) -> list[RuleCheck]:
    """Evaluate each rule present in ``auto_approval_rules``; a false-valued flag is not a rule."""
    checks: list[RuleCheck] = []
    if rules.get("max_budget") is not None:
        limit = float(rules["max_budget"])
        budget = facts.budget()
        if budget is None:
            checks.append(
                RuleCheck("max_budget", False, f"the budget is unknown, so the limit of {limit:g} can't be checked")
            )
        else:
            passed = budget <= limit
            relation = "within" if passed else "over"
            checks.append(RuleCheck("max_budget", passed, f"budget {budget:g} is {relation} the limit of {limit:g}"))
    if rules.get("trusted_users_only"):
        trusted = facts.user_is_trusted()
        reason = "triggered by a trusted user" if trusted else "not triggered by a trusted user"
        checks.append(RuleCheck("trusted_users_only", trusted, reason))
    if rules.get("business_hours_only"):
        inside = facts.within_business_hours()
        reason = "inside business hours" if inside else "outside business hours"
        checks.append(RuleCheck("business_hours_only", inside, reason))
    if rules.get("max_frequency_per_day") is not None:
        limit = int(rules["max_frequency_per_day"])
        count = facts.executions_today()
        passed = count < limit
        checks.append(
            RuleCheck("max_frequency_per_day", passed, f"{count} of at most {limit} executions already ran today")
        )
    return checks


def decide_auto_approval(
    risk_level: str, requires_approval: bool, auto_approval_rules: dict[str, Any] | None, facts: GovernanceFacts
) -> ApprovalDecision:
    """Apply the decision table; returns whether to auto-approve and why."""
    rules = auto_approval_rules or {}
    if risk_level == RISK_CRITICAL:
        return ApprovalDecision(False, "critical-risk rules always need council approval")
    checks = check_auto_approval_rules(rules, facts)
    failed = [check for check in checks if not check.passed]
    if risk_level == RISK_HIGH or requires_approval:
        label = "high-risk rule" if risk_level == RISK_HIGH else "rule that requires approval"
        if not checks:
            return ApprovalDecision(False, f"a {label} needs council approval unless auto-approval rules allow it")
        if failed:
            return ApprovalDecision(False, "; ".join(check.reason for check in failed), checks)
        return ApprovalDecision(True, f"every auto-approval rule holds for this {label}", checks)
    if failed:
        return ApprovalDecision(False, "; ".join(check.reason for check in failed), checks)
    return ApprovalDecision(True, f"{risk_level}-risk rule with no failing auto-approval rule", checks)
