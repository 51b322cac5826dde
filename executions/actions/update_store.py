"""update_store: Change store settings.

A command kind: builds the ``store.update`` command (docs/actions.md, "Command payloads"); the pipeline
delivers it to the tenant's webhook endpoints for this action type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import command_envelope, register_command

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "store.update"


@register_command(ActionType.UPDATE_STORE)
def update_store_command(execution: AutomationExecution, config: dict[str, Any]) -> dict[str, Any]:
    """The ``store.update`` command for this execution (docs/actions.md)."""
    return command_envelope(
        execution,
        COMMAND,
        settings=dict(config.get("settings") or {}),
    )
