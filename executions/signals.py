"""Django signals in, automation events out. Receivers decide nothing: they call ``emit_event``.

Two ways in:

1. ``automation_event``, a signal any code can send::

       from executions.signals import automation_event

       automation_event.send(
           sender=MyService,
           tenant_id="tenant_123",
           event_type="workflow_completed",
           payload={"workflow_id": "wf_1"},
           source="workflows",            # optional
           idempotency_key="wf_1:done",   # optional; a repeat creates nothing
           customer_id=None,              # optional
       )

   Bad input raises ``ValidationError`` naming the field, to the sender. The event is stored in the
   sender's transaction and matched only after it commits: a rolled-back request dispatches nothing.

2. ``AUTOMATIONS["MODEL_EVENTS"]`` turns a host model's ``post_save``/``post_delete`` into events
   without code::

       AUTOMATIONS["MODEL_EVENTS"] = {
           "shop.Product": {
               "created": "product_added",       # event type on create (leave out to ignore creates)
               "updated": "product_updated",     # on update
               "deleted": "product_removed",     # on delete
               "tenant_attribute": "tenant_id",  # attribute (dotted path allowed) holding the tenant id
               "tenant": "shop.tenancy.tenant_of",  # or: dotted path of a callable (instance) -> tenant id
               "source": "store",                # optional event source
               "fields": ["name", "price"],      # optional: the fields copied into the payload
           },
       }

   ``"post_save": "product_saved"`` stands for ``created`` and ``updated`` both, ``"post_delete"`` for
   ``deleted`` (the explicit keys win). The tenant is the ``tenant`` callable's answer, else the
   ``tenant_attribute`` (default ``tenant_id``), else ``AUTOMATIONS["DEFAULT_TENANT"]``.

   The payload holds the instance's fields (all concrete fields unless ``fields`` lists some;
   password fields never), plus ``model`` and ``object_id``. The event is stored in the saving
   transaction and matched only after it commits (``emit_event``): a rolled-back save leaves no event
   and starts nothing. An instance without a tenant is logged and skipped: a host model's save never
   fails because of an automation setting.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver
from django.utils.module_loading import import_string

from automations.conf import app_settings

logger = logging.getLogger(__name__)

# Arguments: tenant_id, event_type, payload, and optionally source, idempotency_key, customer_id,
# occurred_at, causation_depth, caused_by_execution_id (those of emit_event).
automation_event = Signal()


@receiver(automation_event, dispatch_uid="executions.emit_automation_event")
def emit_automation_event(sender: Any, **kwargs: Any) -> Any:
    """Store the event the signal describes; returns the EmitResult (``send()`` hands it back)."""
    from executions.services import emit_event
    from executions.services.events import EVENT_FIELDS

    unknown = sorted(set(kwargs) - set(EVENT_FIELDS) - {"signal"})
    if unknown:
        raise ValidationError({key: ["not an automation_event argument"] for key in unknown})
    arguments = {key: kwargs[key] for key in EVENT_FIELDS if key in kwargs}
    if "tenant_id" not in arguments or "event_type" not in arguments:
        raise ValidationError(
            {key: ["this field is required"] for key in ("tenant_id", "event_type") if key not in arguments}
        )
    return emit_event(**arguments)


# --- host models -----------------------------------------------------------------------------------


def model_event_types(config: dict[str, Any]) -> dict[str, str]:
    """{"created" | "updated" | "deleted": event type} of one entry, ``post_save``/``post_delete`` expanded."""
    saved, deleted = config.get("post_save"), config.get("post_delete")
    types = {"created": config.get("created", saved), "updated": config.get("updated", saved)}
    types["deleted"] = config.get("deleted", deleted)
    return {change: str(event_type) for change, event_type in types.items() if event_type}


@cache
def model_events_config() -> dict[str, dict[str, Any]]:
    """AUTOMATIONS["MODEL_EVENTS"] keyed by lower-case model label, each with its ``event_types``."""
    mapping = app_settings.MODEL_EVENTS
    return {
        str(label).lower(): {**config, "event_types": model_event_types(config)}
        for label, config in mapping.items()
        if isinstance(config, dict)
    }


@receiver(setting_changed, dispatch_uid="executions.model_events_setting_changed")
def _reset_model_events(setting: str, **kwargs: Any) -> None:
    if setting == "AUTOMATIONS":
        model_events_config.cache_clear()


def _attribute(instance: Model, dotted: str) -> Any:
    value: Any = instance
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def model_event_tenant(instance: Model, config: dict[str, Any]) -> str | None:
    """The tenant an instance's event belongs to: the entry's ``tenant`` callable, else its
    ``tenant_attribute`` (default ``tenant_id``), else ``AUTOMATIONS["DEFAULT_TENANT"]``; None: no tenant."""
    if config.get("tenant"):
        tenant_id = import_string(str(config["tenant"]))(instance)
    else:
        tenant_id = _attribute(instance, str(config.get("tenant_attribute", "tenant_id")))
    if tenant_id in (None, ""):
        tenant_id = app_settings.DEFAULT_TENANT
    return None if tenant_id in (None, "") else str(tenant_id)


def model_payload(instance: Model, fields: list[str] | None) -> dict[str, Any]:
    """The instance's fields as JSON values, with ``model`` and ``object_id``."""
    from executions.context import json_safe

    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields and field.attname not in fields:
            continue
        if "password" in field.name:
            continue
        values[field.attname] = getattr(instance, field.attname)
    values["model"] = instance._meta.label_lower
    values["object_id"] = instance.pk
    return json_safe(values)


def _emit_model_event(instance: Model, change: str) -> None:
    from executions.services import emit_event

    label = instance._meta.label_lower
    config = model_events_config().get(label)
    # Our own rows never become events: an Event saved would emit an Event, forever.
    if not config or change not in config["event_types"] or instance._meta.app_label == "executions":
        return
    event_type = config["event_types"][change]
    tenant_id = model_event_tenant(instance, config)
    if tenant_id is None:
        logger.warning("%s %s has no tenant; no %s event", label, instance.pk, event_type)
        return
    # Creates and deletes happen once per object; updates happen many times, so each gets its own key.
    suffix = f"updated:{uuid.uuid4().hex}" if change == "updated" else change
    fields = config.get("fields")
    try:
        emit_event(
            tenant_id=tenant_id,
            event_type=event_type,
            payload=model_payload(instance, list(fields) if isinstance(fields, list | tuple) else None),
            source=config.get("source") or None,
            idempotency_key=f"{label}:{instance.pk}:{suffix}"[:200],
        )
    except ValidationError as error:
        logger.warning("%s %s: %s event refused: %s", label, instance.pk, event_type, error)


def _on_post_save(
    sender: type[Model], instance: Model, created: bool = False, raw: bool = False, **kwargs: Any
) -> None:
    if raw:  # loading fixtures is not something happening in a shop
        return
    if sender._meta.label_lower in model_events_config():
        _emit_model_event(instance, "created" if created else "updated")


def _on_post_delete(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if sender._meta.label_lower in model_events_config():
        _emit_model_event(instance, "deleted")


def connect_model_events() -> None:
    """Connect the model receivers (from ``ready()``); they look the mapping up at call time."""
    post_save.connect(_on_post_save, dispatch_uid="executions.model_events_post_save")
    post_delete.connect(_on_post_delete, dispatch_uid="executions.model_events_post_delete")


def cancel_approvals_of_archived_rule(sender: Any, rule: Any, **kwargs: Any) -> None:
    """``automations.signals.rule_archived``: the archived rule's pending approvals are cancelled."""
    from executions.approvals import approvals_cancel_for_rule

    approvals_cancel_for_rule(rule)
