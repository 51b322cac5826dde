"""generate_draft: Create a workflow draft for a person to review.

Until delivery lands (issue 4) the handler records the platform command it would send,
``workflow_draft.generate``, in ``action_result["command"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "workflow_draft.generate"


@register(ActionType.GENERATE_DRAFT)
def action_generate_draft(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``workflow_draft.generate`` command for this execution; returns it as recorded."""
    command = command_envelope(
        execution,
        COMMAND,
        workflow_type_id=config.get("workflow_type_id"),
        template_id=config.get("template_id"),
        title=config.get("title") or "",
        inputs=dict(config.get("inputs") or {}),
    )
    return ActionResult.succeeded(command=command, delivery="recorded")
