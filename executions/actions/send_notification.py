"""send_notification: Send a message to the tenant's owner, collaborators or councils.

Until delivery lands (issue 4) the handler records the platform command it would send,
``notification.send``, in ``action_result["command"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType
from executions.actions.registry import ActionResult, command_envelope, register

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "notification.send"


@register(ActionType.SEND_NOTIFICATION)
def action_send_notification(execution: AutomationExecution, config: dict[str, Any]) -> ActionResult:
    """Build the ``notification.send`` command for this execution; returns it as recorded."""
    command = command_envelope(
        execution,
        COMMAND,
        recipients=list(config.get("recipients") or []),
        channels=list(config.get("channels") or ["email"]),
        subject=config.get("subject") or "",
        message=config.get("message") or "",
    )
    return ActionResult.succeeded(command=command, delivery="recorded")
