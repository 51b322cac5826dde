"""create_landing_page: Generate a landing page from a template.

Until delivery lands (issue 4) the handler records the platform command it would send,
``landing_page.create``, in ``action_result["command"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "landing_page.create"


@register(ActionType.CREATE_LANDING_PAGE)
def action_create_landing_page(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``landing_page.create`` command for this execution; returns it as recorded."""
    command = command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        title=config.get("title") or "",
        slug=config.get("slug") or "",
        publish=bool(config.get("publish", False)),
    )
    return ActionResult.succeeded(command=command, delivery="recorded")
