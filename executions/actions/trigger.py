"""What caused an execution, as every command carries it in ``trigger`` (docs/webhooks.md, "The trigger").

``command_trigger(execution)`` reads only what the execution already holds (its source, its event row,
and the listener's keys in ``trigger_data``), so it gives the same block on every attempt. Stored JSON is
read defensively: a missing or malformed key is null, never an error.

The event's payload rides along up to AUTOMATIONS["WEBHOOK_TRIGGER_PAYLOAD_MAX_BYTES"]; an endpoint may
leave it out (``without_trigger_payload``, applied per endpoint by the delivery layer).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from automations.conf import app_settings
from executions.choices import TriggerSource

if TYPE_CHECKING:
    from executions.models import AutomationExecution, Event

# Why ``payload`` is null on an event trigger.
PAYLOAD_TOO_LARGE = "too_large"
PAYLOAD_LEFT_OUT_BY_ENDPOINT = "endpoint_setting"
PAYLOAD_NOT_SENT = "disabled"  # WEBHOOK_TRIGGER_PAYLOAD_MAX_BYTES is 0

# The listener keys each block reads from ``trigger_data`` (their meaning: docs/listeners.md).
SLOT_KEYS = ("pattern", "timezone", "slot_utc", "slot_local", "scheduled_local")
THRESHOLD_KEYS = ("metric", "operator", "threshold", "previous_value", "current_value", "observed_at")
BEHAVIOR_KEYS = ("behavior_type", "customer_id", "evidence")


def command_trigger(execution: AutomationExecution) -> dict[str, Any]:
    """The ``trigger`` block of the execution's command: ``type`` (the execution's trigger source) and
    what that source says about the cause."""
    data = execution.trigger_data if isinstance(execution.trigger_data, dict) else {}
    source = str(execution.trigger_source)
    block: dict[str, Any] = {"type": source}
    if source == TriggerSource.EVENT:
        block.update(_event_block(execution.event if execution.event_id is not None else None))
    elif source == TriggerSource.SCHEDULER:
        block["slot"] = {key: data.get(key) for key in SLOT_KEYS}
    elif source == TriggerSource.THRESHOLD:
        block.update({key: data.get(key) for key in THRESHOLD_KEYS})
    elif source == TriggerSource.BEHAVIOR:
        block.update({key: data.get(key) for key in BEHAVIOR_KEYS})
    elif source == TriggerSource.MANUAL:
        block["triggered_by_user_id"] = execution.triggered_by_id
    return block


def _event_block(event: Event | None) -> dict[str, Any]:
    """The event's identity and its payload under the size limit (all null without an event row: a host
    listener that starts rules itself)."""
    if event is None:
        return {
            "source": None,
            "event_id": None,
            "event_type": None,
            "occurred_at": None,
            "idempotency_key": None,
            "payload": None,
            "payload_omitted": None,
        }
    payload, omitted = _bounded_payload(event.payload)
    return {
        "source": event.source,
        "event_id": event.pk,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at.isoformat(),
        "idempotency_key": event.idempotency_key,
        "payload": payload,
        "payload_omitted": omitted,
    }


def _bounded_payload(payload: object) -> tuple[Any, str | None]:
    """``(payload, None)`` when it fits the limit, else ``(None, reason)``."""
    limit = int(app_settings.WEBHOOK_TRIGGER_PAYLOAD_MAX_BYTES)
    if limit <= 0:
        return None, PAYLOAD_NOT_SENT
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"))
    if size > limit:
        return None, PAYLOAD_TOO_LARGE
    return payload, None


def without_trigger_payload(command: dict[str, Any]) -> dict[str, Any]:
    """``command`` with its trigger's event payload left out (an endpoint's choice); unchanged when it has none."""
    trigger = command.get("trigger")
    if not isinstance(trigger, dict) or trigger.get("payload") is None:
        return command
    return {**command, "trigger": {**trigger, "payload": None, "payload_omitted": PAYLOAD_LEFT_OUT_BY_ENDPOINT}}
