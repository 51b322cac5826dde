"""create_landing_page: Generate a landing page from a template.

Builds the ``landing_page.create`` command (docs/actions.md, "Command payloads") and delivers it to the tenant's
webhook endpoints for this action type (``deliver_command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.deliver import deliver_command
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "landing_page.create"


def create_landing_page_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``landing_page.create`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        title=config.get("title") or "",
        slug=config.get("slug") or "",
        publish=bool(config.get("publish", False)),
    )


@register(ActionType.CREATE_LANDING_PAGE, command=create_landing_page_command)
def action_create_landing_page(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``landing_page.create`` command for this execution and deliver it."""
    return deliver_command(execution, ActionType.CREATE_LANDING_PAGE, create_landing_page_command(execution, config))
