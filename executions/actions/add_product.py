"""add_product: Add products from a template.

Until delivery lands (issue 4) the handler records the platform command it would send,
``product.add``, in ``action_result["command"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "product.add"


@register(ActionType.ADD_PRODUCT)
def action_add_product(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``product.add`` command for this execution; returns it as recorded."""
    command = command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        count=int(config.get("count") or 1),
        category=config.get("category") or "",
    )
    return ActionResult.succeeded(command=command, delivery="recorded")
