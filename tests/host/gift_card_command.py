"""``issue_gift_card``'s command builder (the runtime half), as ``executions/actions/<name>.py`` are."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

ACTION_TYPE = "issue_gift_card"
COMMAND = "gift_card.issue"


@register_command(ACTION_TYPE)
def issue_gift_card_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    return command_envelope(
        execution,
        COMMAND,
        amount=config["amount"],
        currency=config["currency"],
        note=config.get("note", ""),
        customer_id=(execution.trigger_data or {}).get("customer_id"),
    )
