"""Everything that changes endpoints and deliveries. Import from here; the modules are an implementation detail.

- ``endpoints``: ``endpoint_create`` (returns the secret, once), ``endpoint_update``, ``endpoint_rotate_secret``,
  ``endpoint_disable``, ``endpoint_enable``.
- ``deliveries``: ``deliveries_create_for_execution``, ``delivery_create``, ``delivery_send_attempt`` (claim, sign,
  POST, record, schedule), ``delivery_create_and_send`` (a new delivery inserted claimed, then sent),
  ``deliveries_claim`` / ``deliveries_post`` / ``deliveries_record`` (the same for a pipeline batch, in the
  batch's transactions: one insert, parallel POSTs, one recording step),
  ``endpoints_for_action``, ``send_due_deliveries`` (the sweeper), ``delivery_redeliver``.
"""

from executions.delivery.policy import classify
from executions.delivery.services.deliveries import (
    DeliveryClaims,
    DeliveryOutcome,
    DeliveryRequest,
    SweepCounts,
    claim_lease,
    client_options,
    deliveries_claim,
    deliveries_create_for_execution,
    deliveries_post,
    deliveries_record,
    delivery_body,
    delivery_create,
    delivery_create_and_send,
    delivery_redeliver,
    delivery_send_attempt,
    endpoints_for_action,
    send_due_deliveries,
    webhook_id_for_execution,
    webhook_payload,
)
from executions.delivery.services.endpoints import (
    ENDPOINT_EDITABLE_FIELDS,
    CreatedEndpoint,
    endpoint_create,
    endpoint_disable,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_save_new,
    endpoint_update,
)
from executions.retries import delivery_retry_delay, parse_retry_after

__all__ = [
    "ENDPOINT_EDITABLE_FIELDS",
    "CreatedEndpoint",
    "DeliveryClaims",
    "DeliveryOutcome",
    "DeliveryRequest",
    "SweepCounts",
    "claim_lease",
    "classify",
    "client_options",
    "deliveries_claim",
    "deliveries_create_for_execution",
    "deliveries_post",
    "deliveries_record",
    "delivery_body",
    "delivery_create",
    "delivery_create_and_send",
    "delivery_redeliver",
    "delivery_retry_delay",
    "delivery_send_attempt",
    "endpoint_create",
    "endpoint_disable",
    "endpoint_enable",
    "endpoint_rotate_secret",
    "endpoint_save_new",
    "endpoint_update",
    "endpoints_for_action",
    "parse_retry_after",
    "send_due_deliveries",
    "webhook_id_for_execution",
    "webhook_payload",
]
