"""The facts a rule's auto-approval rules read, from trusted sources only, and the decision table.

No governance fact comes from a trigger's context (an event payload, a manual run's context): those
are data anyone allowed to post an event or run a rule controls. ``TrustedFacts`` reads instead
(docs/governance.md, "Where each fact comes from"):

- the budget: the rule's own ``action_config["budget"]``;
- the actor: the authenticated user who caused the run, handed in by the caller (None: nobody);
- the moment: the server clock when the decision is taken, in the tenant's time zone;
- today's executions: our own execution rows, counted by the function the executions app registers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from automations.validators import BUDGET_KEY, is_number
from governance.decisions import ApprovalDecision, GovernanceFacts, decide_auto_approval
from governance.selectors import is_trusted_user, is_within_business_hours

if TYPE_CHECKING:
    from automations.models import AutomationRule

ExecutionsTodayCounter = Callable[["AutomationRule", dt.datetime], int]

# Filled by the executions app in ready() (STYLE §1: the higher app hands the count down).
_executions_today_counter: ExecutionsTodayCounter | None = None


def register_executions_today_counter(counter: ExecutionsTodayCounter) -> None:
    """Set how ``max_frequency_per_day`` counts a rule's executions on a moment's local day."""
    global _executions_today_counter
    _executions_today_counter = counter


def server_now() -> dt.datetime:
    """The server clock governance decides by (one name, so a test can freeze it)."""
    return timezone.now()


def rule_budget(rule: AutomationRule) -> float | None:
    """The rule's own configured budget (``action_config["budget"]``), None when it has none."""
    config = rule.action_config if isinstance(rule.action_config, dict) else {}
    value = config.get(BUDGET_KEY)
    if is_number(value):
        return float(value)
    return None  # validators refuse anything else at save time; an old odd row has no budget


@dataclass(frozen=True)
class TrustedFacts:
    """``GovernanceFacts`` for one decision about ``rule``, each looked up only when a rule asks.

    ``actor_id``: the authenticated user who caused the run (None for signals, listeners and Python
    emits, so ``trusted_users_only`` never holds for them). ``moment``: when the decision is taken.
    ``allowed_unrecorded``: runs of the rule that this caller already allowed today but has not written yet
    (a batch decides all its executions before recording any), so ``max_frequency_per_day`` counts them too.
    """

    rule: AutomationRule
    actor_id: int | None
    moment: dt.datetime
    allowed_unrecorded: int = 0

    def budget(self) -> float | None:
        return rule_budget(self.rule)

    def user_is_trusted(self) -> bool:
        return self.actor_id is not None and is_trusted_user(self.rule.tenant_id, self.actor_id)

    def within_business_hours(self) -> bool:
        return is_within_business_hours(self.rule.tenant, self.moment)

    def executions_today(self) -> int:
        if _executions_today_counter is None:
            raise RuntimeError("no executions-today counter registered (the executions app does it in ready())")
        return _executions_today_counter(self.rule, self.moment) + self.allowed_unrecorded


def trusted_facts(
    rule: AutomationRule,
    actor_id: int | None = None,
    moment: dt.datetime | None = None,
    allowed_unrecorded: int = 0,
) -> TrustedFacts:
    """The trusted facts for deciding about ``rule`` now (``moment``: the server clock unless given)."""
    return TrustedFacts(rule, actor_id, moment if moment is not None else server_now(), allowed_unrecorded)


def rule_approval_decision(rule: AutomationRule, facts: GovernanceFacts | None = None) -> ApprovalDecision:
    """Whether ``rule`` may run its action without a council, and why.

    ``facts``: by default the trusted facts with no actor at the server's current moment.
    """
    if facts is None:
        facts = trusted_facts(rule)
    return decide_auto_approval(rule.risk_level, rule.requires_approval, rule.auto_approval_rules, facts)
