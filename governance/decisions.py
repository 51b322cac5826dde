"""The auto-approval decision table, as a pure function over facts (docs/governance.md).

| risk level / flags                          | auto-approved when                                  |
|---------------------------------------------|-----------------------------------------------------|
| critical                                    | never                                               |
| high, or requires_approval true             | auto_approval_rules is non-empty and all rules hold |
| low or medium without requires_approval     | no rule in auto_approval_rules fails                |

``approval_outlook`` asks the same table what it answers for a rule whatever happens at run time (the
actor, the clock, today's count): the plain-English summaries word their governance clause from it.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

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


# --- what the table answers before the run ------------------------------------------------------

OUTLOOK_RUNS: Final = "runs"  # auto-approved whatever happens at run time
OUTLOOK_WHILE_RULES_HOLD: Final = "while_rules_hold"  # auto-approved exactly when ``rules`` hold at run time
OUTLOOK_COUNCIL: Final = "council"  # never auto-approved: always waits for the council


@dataclass(frozen=True)
class ApprovalOutlook:
    """What ``decide_auto_approval`` answers for a rule's definition, over every run-time fact.

    ``kind``: one of the OUTLOOK_* values. ``rules``: for ``while_rules_hold``, the auto-approval rules
    that decide at run time, in check order. ``reason``: for ``council``, the decision's reason even when
    every run-time fact is favourable. ``failed``: those definitional checks that always fail (the rule's
    own budget over ``max_budget`` or unknown).
    """

    kind: str
    rules: tuple[str, ...] = ()
    reason: str = ""
    failed: tuple[RuleCheck, ...] = ()


def approval_outlook(
    risk_level: str, requires_approval: bool, auto_approval_rules: dict[str, Any] | None, budget: float | None
) -> ApprovalOutlook:
    """Ask ``decide_auto_approval`` twice, with every run-time fact favourable and then unfavourable.

    The budget is the rule's own (``action_config["budget"]``), a fact of its definition, so it is the
    same in both. A rule auto-approved in neither case always waits for the council; in both, it always
    runs; otherwise every auto-approval rule must hold (the table's rows agree on that), so it runs
    without approval exactly while the run-time rules that failed the second time hold.
    """
    favourable = KnownFacts(budget_value=budget, trusted=True, in_business_hours=True, executions_today_count=0)
    best = decide_auto_approval(risk_level, requires_approval, auto_approval_rules, favourable)
    if not best.auto_approved:
        failed = tuple(check for check in best.checks if not check.passed)
        return ApprovalOutlook(OUTLOOK_COUNCIL, reason=best.reason, failed=failed)
    unfavourable = KnownFacts(
        budget_value=budget, trusted=False, in_business_hours=False, executions_today_count=sys.maxsize
    )
    worst = decide_auto_approval(risk_level, requires_approval, auto_approval_rules, unfavourable)
    if worst.auto_approved:
        return ApprovalOutlook(OUTLOOK_RUNS, reason=worst.reason)
    deciding = tuple(check.rule for check in worst.checks if not check.passed)
    return ApprovalOutlook(OUTLOOK_WHILE_RULES_HOLD, rules=deciding)
