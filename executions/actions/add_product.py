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


def add_product_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``product.add`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        count=int(config.get("count") or 1),
        category=config.get("category") or "",
    )


@register(ActionType.ADD_PRODUCT, command=add_product_command)
def action_add_product(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``product.add`` command for this execution and deliver it."""
    return deliver_command(execution, ActionType.ADD_PRODUCT, add_product_command(execution, config))
