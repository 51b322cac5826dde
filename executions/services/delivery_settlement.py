"""Delivery outcomes glued to executions: send a delivery, then settle the execution it carries.

The delivery layer (``executions.delivery.services``) only sends; this module settles. An action whose
deliveries are still open leaves its execution ``retrying`` (docs/actions.md). The delivery sweeper
(``send_due_deliveries_and_settle``) and the ``executions.send_delivery`` task (``send_and_settle_delivery``)
retry the deliveries on their own schedule and call ``execution_settle_deliveries``
(``executions.pipeline.record``) after every attempt: once every delivery has ended, one guarded update moves
the execution ``retrying -> succeeded | failed`` and only the caller that won it records the rule's totals
and the failure notice, so it is never counted twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from executions import task_names
from executions.pipeline.record import execution_settle_deliveries

if TYPE_CHECKING:
    from executions.delivery.services import DeliveryOutcome

__all__ = [
    "enqueue_delivery",
    "execution_settle_deliveries",
    "on_delivery_outcome",
    "send_and_settle_delivery",
    "send_due_deliveries_and_settle",
]

logger = logging.getLogger(__name__)


def on_delivery_outcome(outcome: DeliveryOutcome) -> None:
    """``send_due_deliveries(on_outcome=...)``: settle the delivery's execution after an attempt."""
    execution_settle_deliveries(outcome.execution_id)


def send_and_settle_delivery(delivery_id: int) -> DeliveryOutcome | None:
    """Send one due delivery (claim-guarded, so a duplicate message sends nothing) and settle its execution."""
    from executions.delivery.models import WebhookDelivery
    from executions.delivery.services import delivery_send_attempt

    try:
        outcome = delivery_send_attempt(delivery_id)
    except WebhookDelivery.DoesNotExist:
        logger.info("delivery %s no longer exists", delivery_id)
        return None
    if outcome.attempted:
        execution_settle_deliveries(outcome.execution_id)
    return outcome


def send_due_deliveries_and_settle(limit: int = 100, budget_seconds: float = 35.0) -> dict[str, int]:
    """The delivery sweeper: send due deliveries in batches of ``limit`` for up to ``budget_seconds``, settling
    the executions they carry; returns counts. A batch's POSTs run at once, per-endpoint lanes keeping a
    hanging receiver to its own; one still unanswered at the deadline records itself when it answers."""
    import time
    from dataclasses import asdict

    from executions.delivery.services import send_due_deliveries

    deadline = time.monotonic() + budget_seconds
    counts: dict[str, int] = {}
    while True:
        remaining = max(0.0, deadline - time.monotonic())
        batch = asdict(send_due_deliveries(limit=limit, on_outcome=on_delivery_outcome, wait_seconds=remaining))
        for key, value in batch.items():
            counts[key] = counts.get(key, 0) + value
        if batch["due"] < limit or batch["attempted"] == 0 or time.monotonic() > deadline:
            break
    if counts.get("attempted") or counts.get("errors"):
        logger.info("delivery sweep: %s", counts)
    return counts


def enqueue_delivery(delivery_id: int) -> None:
    """AUTOMATIONS["WEBHOOK_ENQUEUE_DELIVERY"]: queue ``executions.send_delivery`` (after commit, by the caller)."""
    from executions.dispatch import publish_soon

    publish_soon(task_names.SEND_DELIVERY, delivery_id)
