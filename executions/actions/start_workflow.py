"""start_workflow: Start a workflow from a template.

Builds the ``workflow.start`` command (docs/actions.md, "Command payloads") and delivers it to the tenant's
webhook endpoints for this action type (``deliver_command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.deliver import deliver_command
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "workflow.start"


def start_workflow_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``workflow.start`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        workflow_type_id=config.get("workflow_type_id"),
        template_id=config.get("template_id"),
        inputs=dict(config.get("inputs") or {}),
    )


@register(ActionType.START_WORKFLOW, command=start_workflow_command)
def action_start_workflow(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``workflow.start`` command for this execution and deliver it."""
    return deliver_command(execution, ActionType.START_WORKFLOW, start_workflow_command(execution, config))
