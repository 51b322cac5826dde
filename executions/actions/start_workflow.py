"""start_workflow: Start a workflow from a template.

A command kind: builds the ``workflow.start`` command (docs/actions.md, "Command payloads"); the pipeline
delivers it to the tenant's webhook endpoints for this action type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "workflow.start"


@register_command(ActionType.START_WORKFLOW)
def start_workflow_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``workflow.start`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        workflow_type_id=config.get("workflow_type_id"),
        template_id=config.get("template_id"),
        inputs=dict(config.get("inputs") or {}),
    )
