"""update_store: Change store settings.

Builds the ``store.update`` command (docs/actions.md, "Command payloads") and delivers it to the tenant's
webhook endpoints for this action type (``deliver_command``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.deliver import deliver_command
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "store.update"


def update_store_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``store.update`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        settings=dict(config.get("settings") or {}),
    )


@register(ActionType.UPDATE_STORE, command=update_store_command)
def action_update_store(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``store.update`` command for this execution and deliver it."""
    return deliver_command(execution, ActionType.UPDATE_STORE, update_store_command(execution, config))
