"""add_product: Add products from a template.

A command kind: builds the ``product.add`` command (docs/actions.md, "Command payloads"); the pipeline
delivers it to the tenant's webhook endpoints for this action type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "product.add"


@register_command(ActionType.ADD_PRODUCT)
def add_product_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``product.add`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        template_id=config.get("template_id"),
        count=int(config.get("count") or 1),
        category=config.get("category") or "",
    )
