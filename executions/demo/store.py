"""The demo store's services: open a store (and its webhook endpoint), add and remove products, apply
the commands its receiver verified.

What the shop does goes through the same ingestion services the API calls: ``emit_events`` (POST
/api/events) and ``record_metric_samples`` (POST /api/metrics).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse

from executions.delivery.services.endpoints import endpoint_create, endpoint_update
from executions.delivery.signing import WebhookVerificationError, verify
from executions.demo.choices import DemoCommandOutcome, DemoItemKind
from executions.demo.models import DemoCommand, DemoStore, DemoStoreItem
from executions.listeners.metrics import record_metric_samples
from executions.services.events import emit_events
from governance.models import Tenant

logger = logging.getLogger(__name__)

EVENT_SOURCE = "demo_store"
OPENING_STOCK = (("prod_0001", "Linen tote"), ("prod_0002", "Ceramic mug"), ("prod_0003", "Desk lamp"))
MAX_PRODUCTS_PER_COMMAND = 10  # an add_product's count is capped: a demo store, not a warehouse
ENDPOINT_DESCRIPTION = "Demo store receiver (make run)"

# Which item each creating command makes, and the command field that names it.
CREATED_BY_COMMAND = {
    "landing_page.create": (DemoItemKind.PAGE, "title"),
    "campaign.generate": (DemoItemKind.CAMPAIGN, "template_id"),
    "workflow_draft.generate": (DemoItemKind.DRAFT, "title"),
    "workflow.start": (DemoItemKind.WORKFLOW, "workflow_type_id"),
}


@dataclass(frozen=True)
class ReceiverAnswer:
    """What the receiver answers a webhook: the HTTP status and what it did."""

    status: int
    outcome: str
    message: str


def receiver_path(tenant_id: str) -> str:
    """The receiver's path for a tenant's store: /demo-store/<tenant>/webhook."""
    return reverse("demo-receiver", kwargs={"tenant_id": tenant_id})


def demo_store_open(tenant: Tenant, server_url: str) -> DemoStore:
    """The tenant's demo store, created with its opening stock the first time; its webhook endpoint
    points at this server's receiver (created, with the secret kept, or moved to ``server_url``)."""
    url = server_url.rstrip("/") + receiver_path(tenant.pk)
    with transaction.atomic():
        store, created = DemoStore.objects.get_or_create(tenant=tenant)
        if store.endpoint is None or not store.webhook_secret:
            made = endpoint_create(tenant, url, description=ENDPOINT_DESCRIPTION)
            store.endpoint, store.webhook_secret = made.endpoint, made.secret
            store.save(update_fields=["endpoint", "webhook_secret"])
        elif store.endpoint.url != url or not store.endpoint.enabled:
            endpoint_update(store.endpoint, {"url": url, "enabled": True})
        if created:
            DemoStoreItem.objects.bulk_create(
                DemoStoreItem(store=store, kind=DemoItemKind.PRODUCT, key=key, name=name, details={"category": "home"})
                for key, name in OPENING_STOCK
            )
    return store


def demo_products(store: DemoStore) -> list[DemoStoreItem]:
    """The store's products, by key."""
    return list(store.items.filter(kind=DemoItemKind.PRODUCT).order_by("key"))


def _event(store: DemoStore, event_type: str, payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "tenant_id": store.tenant_id,
        "event_type": event_type,
        "source": EVENT_SOURCE,
        "payload": payload,
        **fields,
    }


def demo_events_emit(store: DemoStore, events: list[dict[str, Any]]) -> None:
    """Post the store's events through the API's ingestion service (all or none)."""
    emit_events(events, allowed_tenant_ids={store.tenant_id})


def demo_samples_record(store: DemoStore, values: Mapping[str, object]) -> None:
    """Push metric samples through the API's ingestion service; thresholds are checked within seconds."""
    record_metric_samples([{"tenant_id": store.tenant_id, "metric": m, "value": v} for m, v in values.items()])


def demo_product_count_record(store: DemoStore) -> int:
    """Push the store's live product count as ``product_count``; returns it."""
    count = store.items.filter(kind=DemoItemKind.PRODUCT).count()
    demo_samples_record(store, {"product_count": count})
    return count


def demo_products_add(
    store: DemoStore, products: list[tuple[str, str, str]], caused_by_execution_id: int | None = None
) -> int:
    """Add (key, name, category) products: a ``product_added`` event each, then the new ``product_count``."""
    with transaction.atomic():
        for key, name, category in products:
            DemoStoreItem.objects.create(
                store=store, kind=DemoItemKind.PRODUCT, key=key, name=name, details={"category": category}
            )
        cause = {"caused_by_execution_id": caused_by_execution_id} if caused_by_execution_id else {}
        events = [
            _event(store, "product_added", {"product_id": key, "name": name, "category": category}, **cause)
            for key, name, category in products
        ]
        if events:
            demo_events_emit(store, events)
        return demo_product_count_record(store)


def demo_product_remove(store: DemoStore, key: str) -> int:
    """Take a product off the shelf: a ``product_removed`` event, then the new ``product_count``."""
    with transaction.atomic():
        deleted, _ = store.items.filter(kind=DemoItemKind.PRODUCT, key=key).delete()
        if deleted:
            demo_events_emit(store, [_event(store, "product_removed", {"product_id": key})])
        return demo_product_count_record(store)


def next_product_key(store: DemoStore) -> str:
    """A product key not used yet in the store: prod_0001, prod_0002, ..."""
    keys = store.items.filter(kind=DemoItemKind.PRODUCT, key__startswith="prod_").values_list("key", flat=True)
    numbers = [int(key[5:]) for key in keys if key[5:].isdigit()]
    return f"prod_{max(numbers, default=0) + 1:04d}"


# --- the receiver ---------------------------------------------------------------------------------


def demo_command_receive(tenant_id: str, headers: Mapping[str, str], body: bytes) -> ReceiverAnswer:
    """Verify a webhook with the store's secret and apply its command once per ``webhook-id``.

    1. No store for the tenant: 404. A signature that does not verify: 401, recorded as rejected.
    2. A ``webhook-id`` already applied: 200, recorded as a duplicate, nothing applied again.
    3. Otherwise the command is applied and recorded in one transaction: 200.
    """
    store = DemoStore.objects.filter(tenant_id=tenant_id).first()
    if store is None or not store.webhook_secret:
        return ReceiverAnswer(404, "", "No demo store here.")
    webhook_id = next((v for k, v in headers.items() if k.lower() == "webhook-id"), "")[:200]
    try:
        verify(store.webhook_secret, headers, body)
    except WebhookVerificationError as error:
        DemoCommand.objects.create(
            store=store, webhook_id=webhook_id, outcome=DemoCommandOutcome.REJECTED, result=str(error)[:500]
        )
        logger.warning("demo store %s rejected webhook %r: %s", tenant_id, webhook_id, error)
        return ReceiverAnswer(401, DemoCommandOutcome.REJECTED, str(error))
    envelope = _json_object(body)
    data = _object(envelope.get("data"))
    command = _object(data.get("command"))
    name = str(command.get("command") or "")[:100]
    try:
        with transaction.atomic():
            row = DemoCommand.objects.create(
                store=store, webhook_id=webhook_id, command=name, body=envelope, outcome=DemoCommandOutcome.RECORDED
            )
            applied = _apply(store, name, command, data.get("execution_id"))
            if applied:
                row.outcome, row.result = DemoCommandOutcome.APPLIED, applied[:500]
                row.save(update_fields=["outcome", "result"])
    except IntegrityError:
        # TRICKY: the unique constraint on applied webhook ids decides between two concurrent redeliveries.
        DemoCommand.objects.create(
            store=store, webhook_id=webhook_id, command=name, outcome=DemoCommandOutcome.DUPLICATE
        )
        return ReceiverAnswer(200, DemoCommandOutcome.DUPLICATE, f"{webhook_id} was applied before.")
    return ReceiverAnswer(200, row.outcome, applied or f"{name or 'command'} recorded")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return _object(parsed)


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _apply(store: DemoStore, name: str, command: dict[str, Any], execution_id: object) -> str:
    """Change the store as ``command`` says; returns what changed ("" when nothing does)."""
    cause = execution_id if isinstance(execution_id, int) and not isinstance(execution_id, bool) else None
    if name == "product.add":
        count = command.get("count", 1)
        count = max(1, min(int(count), MAX_PRODUCTS_PER_COMMAND)) if isinstance(count, int) else 1
        template, category = str(command.get("template_id") or "product"), str(command.get("category") or "")
        products: list[tuple[str, str, str]] = []
        for index in range(count):
            key = next_product_key(store) if not products else f"prod_{int(products[-1][0][5:]) + 1:04d}"
            products.append((key, f"{template.replace('_', ' ').capitalize()} {index + 1}", category))
        total = demo_products_add(store, products, caused_by_execution_id=cause)
        return f"added {count} product(s); {total} in the store"
    if name == "product.update":
        product = store.items.filter(kind=DemoItemKind.PRODUCT, key=str(command.get("product_id") or "")).first()
        updates = _object(command.get("updates"))
        if product is None:
            return ""
        product.details = {**product.details, **updates}
        product.save(update_fields=["details"])
        return f"updated {product.key}"
    if name == "store.update":
        settings = _object(command.get("settings"))
        store.settings = {**store.settings, **settings}
        store.save(update_fields=["settings"])
        return f"store settings now {json.dumps(store.settings, sort_keys=True)[:200]}"
    if name in CREATED_BY_COMMAND:
        kind, title_field = CREATED_BY_COMMAND[name]
        number = store.items.filter(kind=kind).count() + 1
        title = str(command.get(title_field) or command.get("template_id") or kind)
        details = {k: v for k, v in command.items() if k not in {"tenant_id", "idempotency_key"}}
        DemoStoreItem.objects.create(store=store, kind=kind, key=f"{kind}_{number}", name=title[:200], details=details)
        return f"{DemoItemKind(kind).label.lower()} “{title[:80]}” created"
    return ""  # notification.send and unknown commands change nothing: recorded
