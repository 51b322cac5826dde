"""The rule page's "Send test event" and "Push a metric value": a person's input, through the ingestion
services the API calls (``emit_events`` for POST /api/events, ``record_metric_samples`` for POST
/api/metrics), with the API's role check (``ingest``) and its field-level errors.

The forms are prefilled from the rule: an event rule's event type, source and a sample payload; a
threshold rule's metric and a value on the firing side of its threshold.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from executions.listeners.metrics import record_metric_samples
from executions.services.events import emit_events
from governance import policy
from governance.common.storable import loads_json
from governance.quotas import QuotaExceeded
from governance.roles import Capability

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from automations.models import AutomationRule
    from governance.models import Tenant

EVENT_FORM_FIELDS = ("event_type", "source", "customer_id", "payload")
METRIC_FORM_FIELDS = ("metric", "value")
# What a shop sends with each event type the builder offers or the behaviours read (docs/listeners.md).
SAMPLE_PAYLOADS: dict[str, dict[str, Any]] = {
    "product_added": {"product_id": "prod_123", "name": "Sample product", "category": "home"},
    "product_removed": {"product_id": "prod_123"},
    "store_health_changed": {"store_status": "maintenance"},
    "workflow_completed": {"workflow_id": "wf_123", "workflow_status": "completed"},
    "marketing_site_deployed": {"site_id": "site_123", "url": "https://shop.example.com/"},
    "customer_signup": {"email": "new.customer@example.com"},
    "cart_updated": {"cart_id": "cart_123", "amount": 42.5, "currency": "EUR", "items": ["prod_123"]},
    "checkout_started": {"cart_id": "cart_123", "amount": 42.5, "currency": "EUR"},
    "order_placed": {"order_id": "ord_123", "amount": 42.5},
    "product_viewed": {"product_id": "prod_123"},
}
DEFAULT_SAMPLE_PAYLOAD: dict[str, Any] = {"note": "test event from the rule's page"}
# The value to suggest for a threshold, by its operator: one on the side that fires.
SUGGESTED_STEP = {"<": -1, "<=": 0, ">": 1, ">=": 0, "=": 0, "!=": 1}


@dataclass(frozen=True)
class IngestAnswer:
    """What a form did: ``message`` when it was accepted, else ``errors`` keyed by form field."""

    message: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return not self.errors


def test_event_initial(rule: AutomationRule) -> dict[str, str]:
    """The event form prefilled from an event rule: its event type and source, a sample payload."""
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    event_type = str(config.get("event_type") or "")
    payload = SAMPLE_PAYLOADS.get(event_type, DEFAULT_SAMPLE_PAYLOAD)
    return {
        "event_type": event_type,
        "source": str(config.get("source") or ""),
        "customer_id": "cust_123" if event_type in {"cart_updated", "checkout_started", "order_placed"} else "",
        "payload": json.dumps(payload, indent=2),
    }


def metric_value_initial(rule: AutomationRule) -> dict[str, str]:
    """The metric form prefilled from a threshold rule: its metric and a value that meets its comparison."""
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    threshold = config.get("value")
    value = ""
    if isinstance(threshold, int | float) and not isinstance(threshold, bool):
        suggested = threshold + SUGGESTED_STEP.get(str(config.get("operator")), 0)
        value = f"{suggested:g}"
    return {"metric": str(config.get("metric") or ""), "value": value}


def _messages(error: ValidationError, prefix: str = "") -> dict[str, list[str]]:
    """A service's errors keyed by form field (``[0].payload`` -> ``payload``)."""
    found: dict[str, list[str]] = {}
    for key, messages in error.message_dict.items():
        name = key.removeprefix(prefix)
        found.setdefault(name, []).extend(messages)
    return found


def test_event_send(tenant: Tenant, actor: User | AnonymousUser, typed: dict[str, str]) -> IngestAnswer:
    """Post one event as ``actor`` into ``tenant``, exactly as POST /api/events does.

    Raises PermissionDenied for a role without ``ingest`` (the API's 403). The event's actor is the
    person, as for a token's user, so governance sees who sent it.
    """
    policy.check(actor, tenant.pk, Capability.INGEST)
    try:
        payload = loads_json(typed.get("payload") or "{}")
    except ValueError as error:
        return IngestAnswer(errors={"payload": [f"not valid JSON: {error}"]})
    event = {
        "tenant_id": tenant.pk,
        "event_type": typed.get("event_type", "").strip(),
        "source": typed.get("source", "").strip(),
        "customer_id": typed.get("customer_id", "").strip(),
        "payload": payload,
    }
    try:
        [result] = emit_events(
            [event],
            allowed_tenant_ids=set(policy.tenant_ids_allowing(actor, Capability.INGEST)),
            actor_id=actor.pk,
        )
    except ValidationError as error:
        return IngestAnswer(errors=_messages(error, "[0]."))
    except QuotaExceeded as error:
        return IngestAnswer(errors={"__all__": [f"{error.detail} Try again in {error.retry_after} s."]})
    return IngestAnswer(
        message=f"Event #{result.id} ({event['event_type']}) accepted: matching rules run within seconds."
    )


def _typed_value(text: str) -> object:
    """The typed value as the API would read its JSON: a number when it is one, else the text."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return stripped
    return number if math.isfinite(number) else stripped


def metric_value_push(tenant: Tenant, actor: User | AnonymousUser, typed: dict[str, str]) -> IngestAnswer:
    """Record one metric sample as ``actor`` in ``tenant``, exactly as POST /api/metrics does; the
    threshold rules on the metric are checked within seconds. PermissionDenied without ``ingest``."""
    policy.check(actor, tenant.pk, Capability.INGEST)
    sample = {
        "tenant_id": tenant.pk,
        "metric": typed.get("metric", "").strip(),
        "value": _typed_value(typed.get("value", "")),
    }
    try:
        [row] = record_metric_samples(sample)
    except ValidationError as error:
        return IngestAnswer(errors=_messages(error))
    return IngestAnswer(
        message=f"{row.metric} = {row.value} recorded: threshold rules on it are checked within seconds."
    )
