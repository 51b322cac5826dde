"""Sending an action's command to the tenant's webhook endpoints, and what that means for the execution.

Every built-in handler ends with ``deliver_command(execution, action_type, command)``:

- no enabled endpoint for the action type: ``succeeded`` with ``delivery = "recorded, no endpoint configured"``
  (the command is kept in the execution's ``action_result``; nothing left the process);
- otherwise one ``WebhookDelivery`` per endpoint (created once per execution and endpoint, so a retried
  attempt finds the same rows and the same ``webhook-id``), and the first attempt of each due one now:
  all delivered -> ``succeeded``; one refused for good (3xx, 4xx but 429, 410) -> ``failed``; any still
  open (timeout, 429, 5xx) -> ``delivering``: the execution waits ``retrying`` and the delivery sweeper
  settles it (``executions.services.deliveries.execution_settle_deliveries``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from executions.actions.registry import ActionResult

if TYPE_CHECKING:
    import datetime as dt

    from executions.delivery.services import DeliveryOutcome
    from executions.models import AutomationExecution

NO_ENDPOINT = "recorded, no endpoint configured"


def deliver_command(execution: AutomationExecution, action_type: str, command: dict[str, Any]) -> ActionResult:
    """Create the execution's deliveries of ``command`` and attempt each due one; map the result."""
    from executions.delivery.selectors import execution_delivery_summary
    from executions.delivery.services import (
        deliveries_create_for_execution,
        delivery_create_and_send,
        delivery_send,
        endpoints_for_action,
        webhook_payload,
    )

    endpoints = endpoints_for_action(execution.tenant_id, action_type)
    if not endpoints:
        return ActionResult.succeeded(command=command, delivery=NO_ENDPOINT)
    payload = webhook_payload(execution, action_type, command)
    if len(endpoints) == 1:
        # One endpoint: its delivery is inserted already claimed and sent (one commit fewer).
        outcomes = [delivery_create_and_send(execution, endpoints[0], payload, action_type=action_type)]
    else:
        # Several: every delivery exists before the first is sent, so none is missing if this worker dies.
        deliveries = deliveries_create_for_execution(execution, action_type, payload, endpoints)
        outcomes = [delivery_send(delivery.pk, loaded=delivery) for delivery in deliveries]
    summary = execution_delivery_summary(execution.pk)
    return result_of_deliveries(execution.pk, command, outcomes, summary.status, summary.next_attempt_at)


def result_of_deliveries(
    execution_id: int,
    command: dict[str, Any],
    outcomes: list[DeliveryOutcome],
    status: str | None,
    next_attempt_at: dt.datetime | None,
) -> ActionResult:
    """The action's result from its deliveries' outcomes and what they add up to (``status``)."""
    from executions.choices import ExecutionStatus
    from executions.delivery.services.deliveries import webhook_id_for_execution

    data = {
        "command": command,
        "webhook_id": webhook_id_for_execution(execution_id),
        "deliveries": [
            {"id": o.delivery_id, "status": str(o.status), "status_code": o.status_code, "error": o.error}
            for o in outcomes
        ],
    }
    if status == ExecutionStatus.SUCCEEDED:
        return ActionResult.succeeded(delivery="delivered", **data)
    errors = "; ".join(f"delivery {o.delivery_id}: {o.error}" for o in outcomes if o.error) or "not delivered yet"
    if status == ExecutionStatus.FAILED:
        return ActionResult.failed(f"webhook delivery failed: {errors}", delivery="failed", **data)
    return ActionResult.delivering(f"webhook delivery pending: {errors}", next_attempt_at, delivery="retrying", **data)
