"""create_landing_page: Generate a landing page from a template.

A command kind: builds the ``landing_page.create`` command (docs/actions.md, "Command payloads"); the pipeline
delivers it to the tenant's webhook endpoints for this action type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "landing_page.create"


@register_command(ActionType.CREATE_LANDING_PAGE)
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
