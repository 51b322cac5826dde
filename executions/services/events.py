"""Events in: validate, store as the outbox row, queue matching on commit (``executions.pipeline.match``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from automations.conf import app_settings
from automations.validators import EVENT_TYPE_RE, Errors, errors_by_field
from executions import task_names
from executions.dispatch import chunks, publish_on_commit
from executions.models import AutomationExecution, Event
from executions.services.group_commit import GroupCommit
from governance.common.db_locks import write_transaction
from governance.common.prometheus import count_events_accepted
from governance.common.sql_instances import insert_new_instances
from governance.models import Tenant
from governance.quotas import QuotaExceeded, events_quota_refused, events_quota_reserve, quota_counts_in_database

logger = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY_LENGTH = 200
MAX_CUSTOMER_ID_LENGTH = 100
MAX_CAUSATION_DEPTH_VALUE = 1000
EVENT_FIELDS = (
    "tenant_id",
    "event_type",
    "payload",
    "source",
    "idempotency_key",
    "customer_id",
    "occurred_at",
    "causation_depth",
    "caused_by_execution_id",
)


@dataclass(frozen=True)
class EmitResult:
    """What ``emit_event`` did: the event's id and key, and whether the key had been seen before."""

    id: int
    idempotency_key: str
    duplicate: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EventInput:
    """An event as validated and normalised, ready to store."""

    tenant_id: str
    event_type: str
    payload: dict[str, Any]
    source: str
    idempotency_key: str
    customer_id: str
    occurred_at: dt.datetime
    causation_depth: int
    caused_by_execution_id: int | None
    key_generated: bool = False  # the key was made here (a fresh random one): no earlier event can hold it


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _parse_moment(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else None
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if timezone.is_aware(moment) else None
    return None


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_event_input(data: dict[str, Any]) -> tuple[EventInput | None, Errors]:
    """Check one event's fields (no database); returns the normalised input or errors keyed by field."""
    errors: Errors = {}
    unknown = sorted(set(data) - set(EVENT_FIELDS))
    for name in unknown:
        _add(errors, name, f"unknown field; expected one of {', '.join(EVENT_FIELDS)}")

    tenant_id = data.get("tenant_id")
    if tenant_id is None or tenant_id == "":
        _add(errors, "tenant_id", "this field is required")
    elif not isinstance(tenant_id, str) or len(tenant_id) > 64:
        _add(errors, "tenant_id", "must be a tenant id string such as tenant_123")

    event_type = data.get("event_type")
    if event_type is None or event_type == "":
        _add(errors, "event_type", "this field is required, such as product_added")
    elif not isinstance(event_type, str) or not EVENT_TYPE_RE.match(event_type):
        _add(errors, "event_type", "use 1-100 letters, digits and _ . : - such as product_added")

    payload = data.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        _add(errors, "payload", "must be a JSON object")
    else:
        try:
            encoded = json.dumps(payload, cls=DjangoJSONEncoder)
        except (TypeError, ValueError):
            _add(errors, "payload", "must contain only JSON values")
        else:
            limit = app_settings.MAX_EVENT_PAYLOAD_BYTES
            if len(encoded.encode()) > limit:
                _add(errors, "payload", f"must be at most {limit} bytes as JSON")
            payload = json.loads(encoded)

    source = data.get("source")
    if source is None:
        source = ""
    if source != "" and (not isinstance(source, str) or not EVENT_TYPE_RE.match(source)):
        _add(errors, "source", "use 1-100 letters, digits and _ . : - such as store")

    key = data.get("idempotency_key")
    key_generated = key is None or key == ""
    if key_generated:
        key = f"evt_{uuid.uuid4().hex}"
    elif not isinstance(key, str) or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.strip():
        _add(
            errors, "idempotency_key", f"must be a non-blank string of at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
        )

    customer_id = data.get("customer_id")
    if customer_id is None:
        customer_id = ""
    elif _is_whole(customer_id):
        customer_id = str(customer_id)
    if not isinstance(customer_id, str) or len(customer_id) > MAX_CUSTOMER_ID_LENGTH:
        _add(errors, "customer_id", f"must be a string of at most {MAX_CUSTOMER_ID_LENGTH} characters")

    occurred_at = data.get("occurred_at")
    moment = timezone.now() if occurred_at is None else _parse_moment(occurred_at)
    if moment is None:
        _add(errors, "occurred_at", "must be a date and time with a time zone, such as 2026-12-01T09:00:00Z")

    depth = data.get("causation_depth")
    if depth is None:
        depth = 0
    if not _is_whole(depth) or not 0 <= depth <= MAX_CAUSATION_DEPTH_VALUE:
        _add(errors, "causation_depth", f"must be a whole number from 0 to {MAX_CAUSATION_DEPTH_VALUE}")

    cause = data.get("caused_by_execution_id")
    if cause is not None and (not _is_whole(cause) or cause < 1):
        _add(errors, "caused_by_execution_id", "must be the id of an execution")

    if errors:
        return None, errors
    # What the checks above made sure of, for the type checker.
    assert isinstance(tenant_id, str) and isinstance(event_type, str) and isinstance(key, str) and moment is not None
    return (
        EventInput(
            tenant_id=tenant_id,
            event_type=event_type,
            payload=payload,
            source=source,
            idempotency_key=key,
            customer_id=customer_id,
            occurred_at=moment,
            causation_depth=depth,
            caused_by_execution_id=cause,
            key_generated=key_generated,
        ),
        {},
    )


def _check_references(
    item: EventInput, allowed_tenant_ids: set[str] | None, known_tenant_ids: set[str] | None = None
) -> tuple[EventInput, Errors]:
    """Check the tenant and the causing execution exist; derive the causation depth from the cause.

    ``known_tenant_ids``: tenants already found to exist in this request (a list of events is checked
    with one query per tenant, not one per event); a tenant found here is added to it.
    """
    errors: Errors = {}
    allowed = allowed_tenant_ids is None or item.tenant_id in allowed_tenant_ids
    known = known_tenant_ids is not None and item.tenant_id in known_tenant_ids
    if not allowed or not (known or Tenant.objects.filter(pk=item.tenant_id).exists()):
        # The same message for "missing" and "not yours": the API is no existence oracle.
        _add(errors, "tenant_id", f'no tenant "{item.tenant_id}" you may send events to')
        return item, errors
    if known_tenant_ids is not None:
        known_tenant_ids.add(item.tenant_id)
    if item.caused_by_execution_id is None:
        return item, errors
    cause = (
        AutomationExecution.objects.filter(pk=item.caused_by_execution_id, tenant_id=item.tenant_id)
        .select_related("event")
        .first()
    )
    if cause is None:
        _add(errors, "caused_by_execution_id", "no execution with this id in this tenant")
        return item, errors
    # An event caused by an action is one step deeper than the event that caused the action.
    cause_depth = cause.event.causation_depth if cause.event is not None else 0
    depth = max(item.causation_depth, cause_depth + 1)
    return EventInput(**{**asdict(item), "causation_depth": depth}), errors


def _stored(checked: list[EventInput], actor_id: int | None = None) -> list[EmitResult]:
    """Insert the events of ``checked`` whose keys no stored event holds, in one statement (without a
    transaction on PostgreSQL that is one autocommitted INSERT: all of it or nothing); answer an event
    whose key is taken (stored before, by a concurrent post, or earlier in the list) as a duplicate of the
    event that holds it. One result per item, in order.
    """
    events = [
        Event(
            tenant_id=item.tenant_id,
            event_type=item.event_type,
            source=item.source,
            payload=item.payload,
            customer_id=item.customer_id,
            idempotency_key=item.idempotency_key,
            occurred_at=item.occurred_at,
            causation_depth=item.causation_depth,
            caused_by_execution_id=item.caused_by_execution_id,
            actor_id=actor_id,
        )
        for item in checked
    ]
    inserted = {id(event) for event in insert_new_instances(events, ("tenant", "idempotency_key"))}
    holders = {(event.tenant_id, event.idempotency_key): event.pk for event in events if id(event) in inserted}
    taken = {(event.tenant_id, event.idempotency_key) for event in events if id(event) not in inserted}
    if taken:
        # One read for every taken key (a list may span tenants; the pairs are checked here). TRICKY: the
        # INSERT waited for any concurrent insert of these keys to end, so their holders are visible now.
        candidates = Event.objects.filter(
            tenant_id__in={tenant_id for tenant_id, _key in taken}, idempotency_key__in={key for _t, key in taken}
        ).values_list("tenant_id", "idempotency_key", "id")
        for tenant_id, key, event_id in candidates:
            if (tenant_id, key) in taken:
                holders.setdefault((tenant_id, key), event_id)
    results = []
    for event in events:
        if id(event) in inserted:
            logger.info(
                "Event emitted: %s #%s (%s)", event.event_type, event.pk, event.tenant_id, extra=event.log_fields
            )
        results.append(
            EmitResult(
                holders[(event.tenant_id, event.idempotency_key)], event.idempotency_key, id(event) not in inserted
            )
        )
    return results


def _queue_matching(results: list[EmitResult]) -> None:
    """Queue the new events' matching after commit, in batches of AUTOMATIONS["PIPELINE_BATCH_SIZE"], and
    count them as accepted then.

    The rows are the outbox: if a publish is lost, sweep_outbox re-queues every event still undispatched.
    """
    count_events_accepted(sum(not result.duplicate for result in results))
    for chunk in chunks([result.id for result in results if not result.duplicate]):
        publish_on_commit(task_names.MATCH_EVENTS, chunk)


def events_check(
    items: list[dict[str, Any]], allowed_tenant_ids: set[str] | None = None, known_tenant_ids: set[str] | None = None
) -> list[EventInput]:
    """Validate every event of a request (``emit_events``'s first step; nothing is stored).

    Raises ValidationError keyed ``[index].field`` when any item is bad. ``known_tenant_ids``: tenants the
    caller already knows exist (its memberships' tenants), which then cost no query.
    """
    if not isinstance(items, list) or not items:
        raise ValidationError({"events": ["send one event object or a non-empty list of them"]})
    limit = app_settings.MAX_EVENTS_PER_REQUEST
    if len(items) > limit:
        raise ValidationError({"events": [f"send at most {limit} events at once"]})
    errors: Errors = {}
    checked: list[EventInput] = []
    known = set(known_tenant_ids or ())
    for index, data in enumerate(items):
        if not isinstance(data, dict):
            _add(errors, f"[{index}]", "must be a JSON object")
            continue
        item, item_errors = validate_event_input(data)
        if item is not None:
            item, item_errors = _check_references(item, allowed_tenant_ids, known)
            checked.append(item)
        for field, messages in item_errors.items():
            errors.setdefault(f"[{index}].{field}", []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return checked


def new_event_counts(checked: list[EventInput]) -> dict[str, int]:
    """Events of ``checked`` each tenant does not hold yet, by tenant: what the events quota counts.

    A key already stored (a redelivery) or repeated in the list counts once at most; generated keys are
    new by construction (no query).
    """
    counts: dict[str, int] = {}
    given: dict[str, set[str]] = {}
    for item in checked:
        if item.key_generated:
            counts[item.tenant_id] = counts.get(item.tenant_id, 0) + 1
        else:
            given.setdefault(item.tenant_id, set()).add(item.idempotency_key)
    for tenant_id, keys in given.items():
        stored = Event.objects.filter(tenant_id=tenant_id, idempotency_key__in=sorted(keys)).count()
        counts[tenant_id] = counts.get(tenant_id, 0) + len(keys) - stored
    return counts


# Posts stored at the same time by this process's threads share one transaction (group commit).
INGESTION_GROUPS: GroupCommit[list[EmitResult]] = GroupCommit()


def events_store(checked: list[EventInput], actor_id: int | None = None) -> list[EmitResult]:
    """Count checked events in their tenants' quotas, store them in one transaction (all or nothing: a
    savepoint of its own where concurrent posts share a transaction) and queue their matching after
    commit.

    Raises QuotaExceeded (``governance.quotas``) when a tenant's events-per-minute quota cannot take its
    new events: nothing is stored and nothing stays counted. One event outside a transaction on PostgreSQL
    is one INSERT in autocommit (no BEGIN, savepoint or COMMIT round trips): the same all-or-nothing for a
    single row.
    """
    counts = new_event_counts(checked)
    single = len(checked) == 1 and not connection.in_atomic_block and connection.vendor == "postgresql"
    if quota_counts_in_database() and not single:
        # The count is a row of this database: reserved in the events' own transaction (one commit; on
        # SQLite one write lock taken, not two), and undone with them. A refusal is recorded after the
        # rollback, which would otherwise undo it too. Outside a caller's transaction the posts this
        # process stores at the same time share one (executions/services/group_commit.py).
        def store() -> list[EmitResult]:
            events_quota_reserve(counts, record_refusal=False)
            stored = _stored(checked, actor_id)
            _queue_matching(stored)
            return stored

        try:
            if connection.in_atomic_block:
                with write_transaction():
                    results = store()
            else:
                results = INGESTION_GROUPS.run(store, size=len(checked))
        except QuotaExceeded as refused:
            events_quota_refused(refused)
            raise
        return results
    reservation = events_quota_reserve(counts)
    try:
        if single:
            results = _stored(checked, actor_id)  # one INSERT, autocommitted
            _queue_matching(results)
            return results
        with write_transaction():
            results = _stored(checked, actor_id)
            _queue_matching(results)
    except BaseException:
        reservation.release()  # nothing was stored: nothing stays counted
        raise
    return results


def emit_events(
    items: list[dict[str, Any]], allowed_tenant_ids: set[str] | None = None, actor_id: int | None = None
) -> list[EmitResult]:
    """Validate every event, then store them all in one transaction (all or nothing).

    Raises ValidationError keyed ``[index].field`` when any item is bad; nothing is stored then.
    ``allowed_tenant_ids`` limits the tenants a caller may send to (None: any). ``actor_id``: the
    authenticated user posting them (the API's token user), stored as each new event's ``actor``; it is
    the only source of the user that governance's trusted_users_only checks (never the payload).
    """
    return events_store(events_check(items, allowed_tenant_ids), actor_id)


def emit_event(
    tenant_id: str,
    event_type: str,
    payload: dict[str, Any] | None = None,
    source: str | None = None,
    idempotency_key: str | None = None,
    customer_id: str | None = None,
    occurred_at: dt.datetime | str | None = None,
    causation_depth: int = 0,
    caused_by_execution_id: int | None = None,
) -> EmitResult:
    """Store one event and queue its matching after commit; a repeated key returns the original.

    Raises ValidationError naming the field for bad input, and QuotaExceeded (``governance.quotas``) when
    the tenant is over its events-per-minute quota (nothing stored). Never waits on the broker for long: a
    failed publish leaves the event to the outbox sweeper. The event has no actor (Python callers,
    signals, listeners), so trusted_users_only never holds for the runs it causes.
    """
    data = {
        "tenant_id": tenant_id,
        "event_type": event_type,
        "payload": payload,
        "source": source,
        "idempotency_key": idempotency_key,
        "customer_id": customer_id,
        "occurred_at": occurred_at,
        "causation_depth": causation_depth,
        "caused_by_execution_id": caused_by_execution_id,
    }
    item, errors = validate_event_input(data)
    if item is not None:
        item, errors = _check_references(item, None)
    if errors:
        raise ValidationError(errors_by_field(errors))
    return events_store([item])[0]  # type: ignore[list-item]
