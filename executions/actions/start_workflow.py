"""start_workflow: Start a workflow from a template.

Until delivery lands (issue 4) the handler records the platform command it would send,
``workflow.start``, in ``action_result["command"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "workflow.start"


@register(ActionType.START_WORKFLOW)
def action_start_workflow(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``workflow.start`` command for this execution; returns it as recorded."""
    command = command_envelope(
        execution,
        COMMAND,
        workflow_type_id=config.get("workflow_type_id"),
        template_id=config.get("template_id"),
        inputs=dict(config.get("inputs") or {}),
    )
    return ActionResult.succeeded(command=command, delivery="recorded")
