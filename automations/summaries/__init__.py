"""Plain-English summaries of rules (spec: API endpoint 13 and the builder's Summary Panel).

``summarize_rule`` is a pure function over a rule's definition: a saved ``AutomationRule`` or an
unsaved rule body as the API receives it, complete or half-typed. It never raises and never writes.
Phrasing rules: docs/summaries.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from automations.models import AutomationRule
from automations.summaries.actions import describe_action
from automations.summaries.conditions import describe_conditions, store_state
from automations.summaries.governance import council_words, governance_clause, governance_description
from automations.summaries.text import article, capitalize, quote
from automations.summaries.triggers import describe_trigger

__all__ = ["RuleSummary", "quote", "summarize_rule"]


@dataclass(frozen=True)
class RuleSummary:
    """The spec's four summary keys, plus who must approve the action."""

    summary: str
    trigger_description: str
    conditions_description: str  # "" when the rule has no conditions (the panel then hides the line)
    action_description: str
    governance_description: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _definition(rule_or_data: AutomationRule | dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """The rule body as a dict, and the assigned council's name for a saved rule."""
    if isinstance(rule_or_data, AutomationRule):
        council = rule_or_data.assigned_council if rule_or_data.assigned_council_id else None
        return rule_or_data.definition(), council.name if council is not None else None
    if isinstance(rule_or_data, dict):
        return rule_or_data, None
    return {}, None


def _split_store_condition(conditions: object) -> tuple[str | None, list[Any]]:
    """Take the first top-level ``store_status = <state>`` out, so the sentence can say "in an active store"."""
    if not isinstance(conditions, list):
        return None, []
    for index, condition in enumerate(conditions):
        state = store_state(condition)
        if state is not None:
            return state, conditions[:index] + conditions[index + 1 :]
    return None, list(conditions)


def _sentence(data: dict[str, Any], council: str) -> str:
    """1. the trigger opens ("When …" or a schedule); 2. a store state joins it ("in an active store");
    3. other conditions follow as "if …"; 4. the action; 5. the governance note."""
    trigger = describe_trigger(data.get("trigger_type"), data.get("trigger_config"))
    action = describe_action(data.get("action_type"), data.get("action_config"))
    if not trigger.clause and not action.clause:
        return "This automation has no trigger or action yet."
    store, others = _split_store_condition(data.get("conditions"))
    if trigger.opens_sentence:
        # A schedule opens the sentence itself, so a store state becomes an ordinary check.
        head = trigger.clause
        checks = describe_conditions(others, (f"the store is {store}",) if store else ())
    else:
        in_store = f" in {article(store)} {store} store" if store else ""
        head = f"When {trigger.clause}{in_store}" if trigger.clause else in_store.strip()
        checks = describe_conditions(others)
    parts = [part for part in (head, f"if {checks}" if checks else "") if part]
    parts.append(action.clause or "nothing happens yet: no action is chosen")
    text = ", ".join(parts)
    text += governance_clause(data, council)
    # A quoted message that ends its own sentence ('… now.') needs no second full stop.
    return capitalize(text) if text.endswith((".'", "!'", "?'")) else capitalize(text) + "."


def summarize_rule(
    rule_or_data: AutomationRule | dict[str, Any] | None, council_name: str | None = None
) -> RuleSummary:
    """A one-sentence summary and the trigger, conditions, action and governance in words.

    ``council_name`` names the approving council; else a saved rule's assigned council; else "the council".
    """
    data, assigned_council = _definition(rule_or_data)
    council = council_words(council_name if council_name else assigned_council)
    trigger = describe_trigger(data.get("trigger_type"), data.get("trigger_config"))
    action = describe_action(data.get("action_type"), data.get("action_config"))
    return RuleSummary(
        summary=_sentence(data, council),
        trigger_description=trigger.description,
        conditions_description=capitalize(describe_conditions(data.get("conditions"))),
        action_description=action.description,
        governance_description=governance_description(data, council),
    )
