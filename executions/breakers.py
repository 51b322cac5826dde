"""The rules' circuit breaker: a live rule whose runs fail N times in a row is paused, with one notice.

N is the tenant's ``rule_breaker_failures`` (default 20, 0: off; docs/governance.md, "Circuit breakers").

1. Every ended run moves its rule's ``consecutive_failures`` in the statement that adds it to the rule's
   totals (``RuleTotals`` / ``AutomationRule.add_runs``, in the transaction that ended the run): a failure
   adds one, a success (recorded only included) sets it back to 0. Skipped, blocked, throttled and
   rejected runs never reach that step, so they neither count nor reset it.
2. After those totals, ``breakers_check`` reads the rules of the batch whose count grew and reached N
   (one query), and pauses each through ``automations.services.rule_pause``: a guarded UPDATE, so exactly
   one worker pauses it, records the ``paused`` state change and queues the notice.
3. The notice goes after commit to the rule's creator (while a member of the tenant), else to the tenant's
   owners: why ("failed 20 times in a row; last failure: …") and how to resume.
"""

from __future__ import annotations

import logging

from automations.models import AutomationRule
from automations.services import rule_pause, rules_breaker_due
from executions.choices import ExecutionStatus, NotificationKind
from executions.models import AutomationExecution
from executions.notifications.notices import notify_users_on_commit
from executions.selectors import failure_explanations, tenant_owner_ids
from governance.models import Membership

logger = logging.getLogger(__name__)

NAME_LIMIT = 120


def breaker_reason(failures: int, last_failure: str) -> str:
    """Why the breaker paused a rule, as the rule page, the API and the notice say it."""
    last = last_failure.strip().rstrip(".") or "no detail was recorded"
    return f"Paused automatically: its runs failed {failures} times in a row. Last failure: {last}."


def resume_hint(rule: AutomationRule) -> str:
    return (
        "To resume it, fix the cause, then enable the rule again: the Enable button on the rule's page, or "
        f"POST /api/automations/{rule.pk}/enable. Enabling it resets the count."
    )


def breakers_check(rule_ids: set[str]) -> list[AutomationRule]:
    """Pause the rules among ``rule_ids`` whose failures in a row reached their tenant's breaker; returns the
    rules this call paused. Call in the transaction that recorded the runs, after their totals."""
    paused = []
    for rule in rules_breaker_due(rule_ids):
        last = (
            AutomationExecution.objects.filter(automation_rule_id=rule.pk, status=ExecutionStatus.FAILED)
            .order_by("-id")
            .first()
        )
        explanation = failure_explanations([last]).get(last.pk) if last is not None else None
        cause = explanation.cause if explanation is not None else (last.error_message if last is not None else "")
        reason = breaker_reason(rule.consecutive_failures, cause)
        if not rule_pause(rule, reason):
            continue  # another worker paused it first, and tells the owner
        logger.warning(
            "rule %s paused by its circuit breaker after %s failed runs in a row",
            rule.pk,
            rule.consecutive_failures,
            extra=rule.log_fields,
        )
        _notify_paused(rule, reason, last.pk if last is not None else None)
        paused.append(rule)
    return paused


def breaker_recipients(rule: AutomationRule) -> list[int]:
    """Who hears that a rule was paused: its creator while a member of the tenant, else the tenant's owners."""
    creator = rule.created_by_id
    if creator is not None and Membership.objects.filter(tenant_id=rule.tenant_id, user_id=creator).exists():
        return [creator]
    return tenant_owner_ids(rule.tenant_id)


def _notify_paused(rule: AutomationRule, reason: str, execution_id: int | None) -> None:
    name = rule.name if len(rule.name) <= NAME_LIMIT else rule.name[: NAME_LIMIT - 1] + "…"
    title = f'Automation "{name}" was paused: it failed {rule.consecutive_failures} times in a row'
    body = f"{reason} {resume_hint(rule)}"
    # After commit, never raising: a notice never undoes the pause it reports.
    notify_users_on_commit(
        breaker_recipients(rule), rule.tenant_id, NotificationKind.RULE_PAUSED, title, body, execution_id
    )
