"""add_product: Add products from a template.

Builds the ``product.add`` command (docs/actions.md, "Command payloads") and delivers it to the tenant's
webhook endpoints for this action type (``deliver_command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.deliver import deliver_command
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "product.add"


@register(ActionType.ADD_PRODUCT)
def action_add_product(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``product.add`` command for this execution and deliver it."""
    command = command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        count=int(config.get("count") or 1),
        category=config.get("category") or "",
    )
    return deliver_command(execution, ActionType.ADD_PRODUCT, command)
