"""Who must approve a rule's action, in words: asked of the decision table itself.

``governance_outlook`` hands the rule's risk level, ``requires_approval``, auto-approval rules and own
budget to ``governance.decisions.approval_outlook``, which runs ``decide_auto_approval`` (the function
every execution's governance step calls) with every run-time fact favourable and then unfavourable. The
sentence's clause and ``governance_description`` are worded from its answer, so a summary never says
"after approval" of a run the table auto-approves, nor the reverse (docs/summaries.md, "Governance").
"""

from __future__ import annotations

from typing import Any

from automations.choices import RiskLevel
from automations.summaries.text import is_number, join_words
from automations.validators import BUDGET_KEY
from governance.common.words import format_number
from governance.decisions import OUTLOOK_COUNCIL, OUTLOOK_RUNS, ApprovalOutlook, approval_outlook

DEFAULT_COUNCIL = "the council"


def council_words(council_name: str | None) -> str:
    """``Marketing Council`` -> ``the Marketing Council``; no name -> ``the council``."""
    name = council_name.strip() if isinstance(council_name, str) else ""
    if not name:
        return DEFAULT_COUNCIL
    return name if name.lower().startswith("the ") else f"the {name}"


def usable_rules(rules: object) -> dict[str, Any]:
    """The auto-approval rules of a (possibly half-typed) body in the shapes the validator accepts; a
    false flag is no rule, as in the decision table."""
    if not isinstance(rules, dict):
        return {}
    usable: dict[str, Any] = {}
    if is_number(rules.get("max_budget")) and rules["max_budget"] >= 0:
        usable["max_budget"] = rules["max_budget"]
    for flag in ("trusted_users_only", "business_hours_only"):
        if rules.get(flag) is True:
            usable[flag] = True
    limit = rules.get("max_frequency_per_day")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1:
        usable["max_frequency_per_day"] = limit
    return usable


def governance_outlook(data: dict[str, Any]) -> ApprovalOutlook:
    """The decision table's answer for the rule body ``data`` over every run-time fact."""
    risk_level = data.get("risk_level")
    config = data.get("action_config")
    budget = config.get(BUDGET_KEY) if isinstance(config, dict) else None
    return approval_outlook(
        risk_level if risk_level in RiskLevel.values else RiskLevel.LOW,  # the model's default until one is chosen
        data.get("requires_approval") is True,
        usable_rules(data.get("auto_approval_rules")),
        float(budget) if is_number(budget) else None,
    )


def rule_phrase(key: str, rules: dict[str, Any]) -> str:
    """One run-time auto-approval rule as a condition that must hold."""
    if key == "trusted_users_only":
        return "a trusted user triggers it"
    if key == "business_hours_only":
        return "it runs in business hours"
    if key == "max_frequency_per_day":
        limit = int(rules[key])
        return "it has not run yet today" if limit == 1 else f"it has run fewer than {limit:,} times today"
    return f"the budget is at most {format_number(rules[key])}"  # max_budget (the budget is the rule's own)


def _holds_while(data: dict[str, Any], outlook: ApprovalOutlook) -> str:
    rules = usable_rules(data.get("auto_approval_rules"))
    return join_words([rule_phrase(key, rules) for key in outlook.rules])


def governance_clause(data: dict[str, Any], council: str) -> str:
    """The summary sentence's ending: "" (runs without approval), ", after approval by the council", or
    ", without approval while it has not run yet today (otherwise after approval by the council)"."""
    outlook = governance_outlook(data)
    if outlook.kind == OUTLOOK_RUNS:
        return ""
    if outlook.kind == OUTLOOK_COUNCIL:
        return f", after approval by {council}"
    return f", without approval while {_holds_while(data, outlook)} (otherwise after approval by {council})"


def governance_description(data: dict[str, Any], council: str) -> str:
    """``Runs without approval``; ``Runs without approval while the budget …; otherwise needs approval by
    the council``; ``Always needs approval by the Marketing Council`` (with the reason when the rule's own
    budget decides it)."""
    outlook = governance_outlook(data)
    if outlook.kind == OUTLOOK_RUNS:
        return "Runs without approval"
    if outlook.kind == OUTLOOK_COUNCIL:
        because = "; ".join(check.reason for check in outlook.failed)
        return f"Always needs approval by {council}" + (f": {because}" if because else "")
    return f"Runs without approval while {_holds_while(data, outlook)}; otherwise needs approval by {council}"
