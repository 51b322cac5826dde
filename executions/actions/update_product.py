"""update_product: Change fields of a product (the configured one, else the trigger's).

A command kind: builds the ``product.update`` command (docs/actions.md, "Command payloads"); the pipeline
delivers it to the tenant's webhook endpoints for this action type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "product.update"


def _trigger_value(execution: AutomationExecution, key: str) -> Any:
    data = execution.trigger_data if isinstance(execution.trigger_data, dict) else {}
    return data.get(key)


@register_command(ActionType.UPDATE_PRODUCT)
def update_product_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``product.update`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        product_id=config.get("product_id") or _trigger_value(execution, "product_id"),
        updates=dict(config.get("updates") or {}),
    )
