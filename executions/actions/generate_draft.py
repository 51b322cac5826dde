"""generate_draft: Create a workflow draft for a person to review.

A command kind: builds the ``workflow_draft.generate`` command (docs/actions.md, "Command payloads"); the pipeline
delivers it to the tenant's webhook endpoints for this action type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "workflow_draft.generate"


@register_command(ActionType.GENERATE_DRAFT)
def generate_draft_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``workflow_draft.generate`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        workflow_type_id=config.get("workflow_type_id"),
        template_id=config.get("template_id"),
        title=config.get("title") or "",
        inputs=dict(config.get("inputs") or {}),
    )
