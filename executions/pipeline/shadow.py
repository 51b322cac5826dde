"""Shadow mode (docs/shadow.md): what a shadow rule's run logs instead of acting.

A shadow rule is matched, evaluated and governed like a live one; where a live run would act (or wait
for approval), its execution ends ``shadowed`` with the action it would have taken in ``action_result``:
the command as it would have been delivered (never delivered), or an in-process action's settings. No
approval request is opened and no notice is sent.
"""

from __future__ import annotations

from typing import Any

from automations.models import AutomationRule
from executions.actions import UnknownActionType, build_command, get_action_entry
from executions.context import json_safe
from executions.models import AutomationExecution

SHADOWED_OUTCOME = "shadowed"


def shadow_action(execution: AutomationExecution, rule: AutomationRule, auto_approved: bool) -> dict[str, Any]:
    """The ``action_result`` of a shadowed run: the action it would have taken, never taken."""
    config = dict(rule.action_config) if isinstance(rule.action_config, dict) else {}
    result: dict[str, Any] = {
        "outcome": SHADOWED_OUTCOME,
        "action_type": rule.action_type,
        "delivered": False,
        "would_need_approval": not auto_approved,
    }
    try:
        entry = get_action_entry(rule.action_type)
    except UnknownActionType as error:
        return {**result, "error": str(error)}
    if entry.command is None:
        # An in-process action (send_notification): what it was set to do.
        return {**result, "would_run": json_safe(config)}
    command, failed = build_command(entry, execution, config)
    if command is None:
        return {**result, "error": failed.error if failed is not None else "no command"}
    return {**result, "command": json_safe(command)}
