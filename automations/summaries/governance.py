"""Who must approve a rule's action, in words, following the decision table in governance/decisions.py."""

from __future__ import annotations

from typing import Any

from automations.summaries.text import is_number, join_words
from config.words import format_number
from governance.decisions import RISK_CRITICAL, RISK_HIGH

DEFAULT_COUNCIL = "the council"


def needs_approval(risk_level: object, requires_approval: object) -> bool:
    """Critical, high or ``requires_approval`` rules go to a council unless auto-approval rules allow them."""
    return risk_level in (RISK_CRITICAL, RISK_HIGH) or requires_approval is True


def council_words(council_name: str | None) -> str:
    """``Marketing Council`` -> ``the Marketing Council``; no name -> ``the council``."""
    name = council_name.strip() if isinstance(council_name, str) else ""
    if not name:
        return DEFAULT_COUNCIL
    return name if name.lower().startswith("the ") else f"the {name}"


def auto_approval_phrases(rules: object) -> list[str]:
    """Each rule in ``auto_approval_rules`` as a condition that must hold; false flags are no rule."""
    if not isinstance(rules, dict):
        return []
    phrases = []
    budget = rules.get("max_budget")
    if is_number(budget):
        phrases.append(f"the budget is at most {format_number(budget)}")
    if rules.get("trusted_users_only") is True:
        phrases.append("a trusted user triggers it")
    if rules.get("business_hours_only") is True:
        phrases.append("it runs in business hours")
    limit = rules.get("max_frequency_per_day")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1:
        phrases.append("it has not run yet today" if limit == 1 else f"it has run fewer than {limit:,} times today")
    return phrases


def governance_description(data: dict[str, Any], council: str) -> str:
    """``Needs approval by the Marketing Council unless the budget is at most 100``, ``Runs without approval``."""
    risk_level = data.get("risk_level")
    rules = auto_approval_phrases(data.get("auto_approval_rules"))
    if risk_level == RISK_CRITICAL:
        return f"Always needs approval by {council}"
    if needs_approval(risk_level, data.get("requires_approval")):
        if rules:
            return f"Needs approval by {council} unless {join_words(rules)}"
        return f"Needs approval by {council}"
    if rules:
        return f"Runs without approval while {join_words(rules)}; otherwise needs approval by {council}"
    return "Runs without approval"
