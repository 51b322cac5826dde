"""update_store: Change store settings.

Until delivery lands (issue 4) the handler records the platform command it would send,
``store.update``, in ``action_result["command"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "store.update"


@register(ActionType.UPDATE_STORE)
def action_update_store(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``store.update`` command for this execution; returns it as recorded."""
    command = command_envelope(
        execution,
        COMMAND,
        settings=dict(config.get("settings") or {}),
    )
    return ActionResult.succeeded(command=command, delivery="recorded")
