"""generate_draft: Create a workflow draft for a person to review.

Builds the ``workflow_draft.generate`` command (docs/actions.md, "Command payloads") and delivers it to the tenant's
webhook endpoints for this action type (``deliver_command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.deliver import deliver_command
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "workflow_draft.generate"


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


@register(ActionType.GENERATE_DRAFT, command=generate_draft_command)
def action_generate_draft(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``workflow_draft.generate`` command for this execution and deliver it."""
    return deliver_command(execution, ActionType.GENERATE_DRAFT, generate_draft_command(execution, config))
