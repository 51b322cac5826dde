"""update_product: Change fields of a product (the configured one, else the trigger's).

Builds the ``product.update`` command (docs/actions.md, "Command payloads") and delivers it to the tenant's
webhook endpoints for this action type (``deliver_command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.deliver import deliver_command
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "product.update"


def _trigger_value(execution: AutomationExecution, key: str) -> Any:
    data = execution.trigger_data if isinstance(execution.trigger_data, dict) else {}
    return data.get(key)


def update_product_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``product.update`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        product_id=config.get("product_id") or _trigger_value(execution, "product_id"),
        updates=dict(config.get("updates") or {}),
    )


@register(ActionType.UPDATE_PRODUCT, command=update_product_command)
def action_update_product(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``product.update`` command for this execution and deliver it."""
    return deliver_command(execution, ActionType.UPDATE_PRODUCT, update_product_command(execution, config))
