"""generate_campaign: Create a marketing campaign from a template.

A command kind: builds the ``campaign.generate`` command (docs/actions.md, "Command payloads"); the pipeline
delivers it to the tenant's webhook endpoints for this action type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "campaign.generate"


@register_command(ActionType.GENERATE_CAMPAIGN)
def generate_campaign_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``campaign.generate`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        channels=list(config.get("channels") or ["email"]),
        schedule=config.get("schedule") or "immediate",
    )
