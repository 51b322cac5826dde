"""generate_campaign: Create a marketing campaign from a template.

Until delivery lands (issue 4) the handler records the platform command it would send,
``campaign.generate``, in ``action_result["command"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "campaign.generate"


@register(ActionType.GENERATE_CAMPAIGN)
def action_generate_campaign(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``campaign.generate`` command for this execution; returns it as recorded."""
    command = command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        channels=list(config.get("channels") or ["email"]),
        schedule=config.get("schedule") or "immediate",
    )
    return ActionResult.succeeded(command=command, delivery="recorded")
