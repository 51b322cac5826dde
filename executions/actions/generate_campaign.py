"""generate_campaign: Create a marketing campaign from a template.

Builds the ``campaign.generate`` command (docs/actions.md, "Command payloads") and delivers it to the tenant's
webhook endpoints for this action type (``deliver_command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.deliver import deliver_command
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "campaign.generate"


def generate_campaign_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``campaign.generate`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        channels=list(config.get("channels") or ["email"]),
        schedule=config.get("schedule") or "immediate",
    )


@register(ActionType.GENERATE_CAMPAIGN, command=generate_campaign_command)
def action_generate_campaign(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``campaign.generate`` command for this execution and deliver it."""
    return deliver_command(execution, ActionType.GENERATE_CAMPAIGN, generate_campaign_command(execution, config))
