"""Step 1 for events: match undispatched events to the tenant's rules and log their executions.

One short transaction takes a fair batch of waiting events (shared round-robin between the tenants with
events waiting; on PostgreSQL ``SKIP LOCKED``), reads each (tenant, event type)'s rules once, logs the
executions (``create.executions_create``) and marks the events dispatched. The first batch of new
executions then runs in this process (``run.run_loaded``), the quiet tenants' before the backlogged
ones'; the rest are queued after commit as ``run_executions_task`` batches.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from automations.conf import app_settings
from automations.models import AutomationRule
from executions import task_names
from executions.choices import ExecutionStatus, TriggerSource
from executions.dispatch import batch_size, chunks, publish_on_commit
from executions.models import AutomationExecution, Event
from executions.pipeline.create import TriggerRequest, executions_create
from executions.pipeline.run import run_loaded
from executions.selectors import event_rules, rule_accepts_event_source, rules_matching_event
from governance.common.db_locks import write_transaction
from governance.common.sql_instances import column_of, instances_from_sql, placeholders, select_list

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchResult:
    event_id: int
    matched_rule_ids: list[str]
    created_execution_ids: list[int]


def event_trigger_data(event: Event) -> dict[str, Any]:
    """What an event adds to the context: its payload's keys, and ``event`` with its metadata."""
    return trigger_data_of_event_row(
        event.pk,
        event.event_type,
        event.source,
        event.customer_id,
        event.occurred_at,
        event.causation_depth,
        event.payload,
    )


# The columns ``trigger_data_of_event_row`` takes, in order (for ``values_list`` reads of many events).
EVENT_ROW_FIELDS = ("id", "event_type", "source", "customer_id", "occurred_at", "causation_depth", "payload")


def trigger_data_of_event_row(
    event_id: int,
    event_type: str,
    source: str,
    customer_id: str,
    occurred_at: Any,
    causation_depth: int,
    payload: Any,
) -> dict[str, Any]:
    """``event_trigger_data`` from an event's columns, without a model instance (backtests read millions)."""
    payload = payload if isinstance(payload, dict) else {}
    return {
        **payload,
        "event": {
            "id": event_id,
            "type": event_type,
            "source": source,
            "customer_id": customer_id,
            "occurred_at": occurred_at.isoformat(),
            "causation_depth": causation_depth,
            "payload": payload,
        },
    }


def takes_fair_batches() -> bool:
    """True when a task can take any waiting events safely: PostgreSQL's ``SKIP LOCKED``, or SQLite's write lock."""
    return connection.features.has_select_for_update_skip_locked or holds_write_lock()


def holds_write_lock() -> bool:
    """True when this transaction excludes every other writer: SQLite with ``transaction_mode`` IMMEDIATE
    (this project's setting), where ``BEGIN IMMEDIATE`` takes the database's one write lock."""
    options = connection.settings_dict.get("OPTIONS", {})
    return connection.vendor == "sqlite" and str(options.get("transaction_mode", "")).upper() == "IMMEDIATE"


@dataclass(frozen=True)
class TakenEvents:
    """A batch of events to match, and the tenants of it that have more waiting (backlogged)."""

    events: list[Event]
    backlogged: frozenset[str] = frozenset()
    own_tenants: frozenset[str] = frozenset()  # the tenants of the message's own events still waiting


def take_events(event_ids: list[int], tenant_ids: list[str] | None = None) -> TakenEvents:
    """A fair batch of undispatched events for a wake-up carrying ``event_ids``; call inside the write
    transaction that marks them dispatched.

    The batch (up to ``PIPELINE_BATCH_SIZE`` events) is shared between the tenants with events waiting,
    round-robin, each tenant's oldest first (``fair_batch``): a tenant with a backlog of thousands gets
    its share of every batch, and any other tenant's waiting events ride in the very next batch, whoever's
    message woke the task (docs/pipeline.md, "Fairness between tenants"). The message's own events come
    first within their tenant's share. Their messages then find them dispatched and do nothing. The
    answer names the tenants that had more waiting than their share (backlogged), whose executions the
    task runs after the others' (``match_events``).

    No event is taken twice: on PostgreSQL the rows are locked ``SKIP LOCKED`` (an event another worker
    is matching right now is left to it); on SQLite the transaction holds the database's write lock from
    its ``BEGIN IMMEDIATE``, so no other transaction can take or mark anything until this one commits.
    Elsewhere each message takes only its own events.

    ``tenant_ids`` (the backlog lane's wake-up): a fair batch of those tenants' oldest events, no one else's.
    """
    skip_locked = connection.features.has_select_for_update_skip_locked
    size = batch_size()
    if not takes_fair_batches():
        # No lane without row locks (the outbox sweeper re-queues the events); a message takes its own.
        own_only = Event.objects.filter(dispatched_at__isnull=True, pk__in=[] if tenant_ids is not None else event_ids)
        return TakenEvents(list(own_only.order_by("id")))
    if tenant_ids is not None:
        return fair_batch(list(dict.fromkeys(tenant_ids))[:size], {}, size, skip_locked)
    own: dict[str, list[int]] = {}
    for event_id, tenant_id in _undispatched_tenants_of(event_ids):
        own.setdefault(tenant_id, []).append(event_id)
    tenants = list(own)[:size]
    tenants += [tenant for tenant in waiting_tenants(size - len(tenants), exclude=tenants)]
    taken = fair_batch(tenants, own, size, skip_locked)
    return TakenEvents(taken.events, taken.backlogged, frozenset(own))


# The tenant after which the next scan of waiting tenants starts (per process), so that when more tenants
# wait than a batch can serve, the next batches serve the next ones, round-robin.
_scan_cursor = ""


def waiting_tenants(limit: int, exclude: list[str]) -> list[str]:
    """Up to ``limit`` tenants with undispatched events, not in ``exclude``, round-robin by tenant id
    from where this process's last scan stopped.

    One statement, a loose index scan over ``event_undispatched_tenant`` (tenant, received_at, id) WHERE
    dispatched_at IS NULL: one index probe per tenant visited, whatever the backlog behind each.
    """
    global _scan_cursor
    if limit <= 0:
        return []
    found = _scan_tenants(_scan_cursor, limit + len(exclude))
    if len(found) < limit + len(exclude) and _scan_cursor:
        found += [tenant for tenant in _scan_tenants("", limit + len(exclude)) if tenant not in found]
    chosen = [tenant for tenant in found if tenant not in exclude][:limit]
    _scan_cursor = chosen[-1] if len(chosen) == limit else ""
    return chosen


def _scan_tenants(after: str, limit: int) -> list[str]:
    table = connection.ops.quote_name(Event._meta.db_table)
    sql = f"""
        WITH RECURSIVE waiting(tenant_id) AS (
            SELECT (SELECT MIN(tenant_id) FROM {table} WHERE dispatched_at IS NULL AND tenant_id > %s)
            UNION ALL
            SELECT (
                SELECT MIN(e.tenant_id) FROM {table} e WHERE e.dispatched_at IS NULL AND e.tenant_id > w.tenant_id
            )
            FROM waiting w WHERE w.tenant_id IS NOT NULL
        )
        SELECT tenant_id FROM waiting WHERE tenant_id IS NOT NULL LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [after, limit])
        return [tenant for (tenant,) in cursor.fetchall()]


def fair_batch(tenants: list[str], own: dict[str, list[int]], size: int, skip_locked: bool) -> TakenEvents:
    """Up to ``size`` undispatched events of ``tenants``, shared round-robin: each round gives every
    tenant that still has events an equal share of the room left (at least one), its ``own`` events
    (the message's) first, then its oldest. The answer interleaves the tenants (one of each in turn), so
    the first executions of the batch are every tenant's, not the biggest one's. A tenant that took all
    it asked for in the last round may have more waiting: it is named backlogged."""
    taken: dict[str, list[Event]] = {tenant: [] for tenant in tenants}
    room, active = size, list(tenants)
    while room > 0 and active:
        share = max(1, room // len(active))
        still = []
        for index, tenant in enumerate(active):
            want = min(share, room)
            if want <= 0:  # the batch is full: the tenants not reached this round keep their standing
                still += active[index:]
                break
            got = _take_of_tenant(tenant, own.get(tenant, []), taken[tenant], want, skip_locked)
            taken[tenant] += got
            room -= len(got)
            if len(got) == want:
                still.append(tenant)
        active = still
    batch: list[Event] = []
    for turn in range(max((len(events) for events in taken.values()), default=0)):
        batch += [events[turn] for events in taken.values() if turn < len(events)]
    return TakenEvents(batch, frozenset(active))


def _take_of_tenant(tenant: str, own: list[int], taken: list[Event], want: int, skip_locked: bool) -> list[Event]:
    """The tenant's next ``want`` undispatched events not yet ``taken``: ``own`` ones first, then oldest."""
    taken_ids = {event.pk for event in taken}
    got: list[Event] = []
    mine = [pk for pk in own if pk not in taken_ids][:want]
    for only, limit in ((mine, len(mine)), (None, want)):
        limit = min(limit, want - len(got))
        if limit > 0:
            left_out = [*taken_ids, *(event.pk for event in got)]
            got += _undispatched_of_tenant(tenant, only, left_out, limit, skip_locked)
    return got


def _undispatched_tenants_of(event_ids: list[int]) -> list[tuple[int, str]]:
    """(id, tenant) of the events of ``event_ids`` still undispatched, oldest first (hand-written, as
    ``_undispatched_of_tenant``: it runs for every matching task)."""
    if not event_ids:
        return []
    quote = connection.ops.quote_name
    key, tenant, dispatched, received = (
        quote(column_of(Event, name)) for name in ("id", "tenant", "dispatched_at", "received_at")
    )
    sql = (
        f"SELECT {key}, {tenant} FROM {quote(Event._meta.db_table)} WHERE {dispatched} IS NULL "
        f"AND {key} IN ({placeholders(len(event_ids))}) ORDER BY {received}, {key}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, event_ids)
        return [(int(event_id), str(tenant_id)) for event_id, tenant_id in cursor.fetchall()]


def _mark_dispatched(event_ids: list[int], now: dt.datetime) -> None:
    """Set the taken events' ``dispatched_at`` (one hand-written UPDATE: it runs for every matching task)."""
    quote = connection.ops.quote_name
    key, dispatched = quote(column_of(Event, "id")), quote(column_of(Event, "dispatched_at"))
    sql = f"UPDATE {quote(Event._meta.db_table)} SET {dispatched} = %s WHERE {key} IN ({placeholders(len(event_ids))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *event_ids])


def _undispatched_of_tenant(
    tenant: str, only: list[int] | None, left_out: list[int], limit: int, skip_locked: bool
) -> list[Event]:
    """Up to ``limit`` of the tenant's undispatched events (of ``only`` when given, never of ``left_out``),
    oldest first, locked ``SKIP LOCKED`` when asked.

    TRICKY: hand-written SQL (``instances_from_sql``), not a queryset: it runs for every batch the pipeline
    matches, where building and compiling the queryset cost several times the statement.
    """
    quote = connection.ops.quote_name
    column = functools.partial(column_of, Event)
    where = [f"e.{quote(column('tenant'))} = %s", f"e.{quote(column('dispatched_at'))} IS NULL"]
    params: list[Any] = [tenant]
    for ids, operator in ((only, "IN"), (left_out or None, "NOT IN")):
        if ids is not None:
            where.append(f"e.{quote(column('id'))} {operator} ({placeholders(len(ids))})")
            params += ids
    sql = (
        f"SELECT {select_list(Event, 'e', connection)} FROM {quote(Event._meta.db_table)} e "
        f"WHERE {' AND '.join(where)} ORDER BY e.{quote(column('received_at'))}, e.{quote(column('id'))} "
        f"LIMIT %s{' FOR UPDATE SKIP LOCKED' if skip_locked else ''}"
    )
    return instances_from_sql(Event, sql, [*params, limit])


def backlog_lane_on() -> bool:
    """AUTOMATIONS["BACKLOG_LANE"]: backlogged tenants' events are matched on the backlog queue."""
    return bool(app_settings.BACKLOG_LANE) and takes_fair_batches()


# A backlog whose oldest event has waited this long is matched on the events queue again: a backlog lane
# that is missing (AUTOMATIONS["BACKLOG_LANE"] on, no worker consuming it) or stuck does not stop a tenant.
BACKLOG_LANE_FALLBACK = dt.timedelta(minutes=10)


def leave_to_backlog_lane(taken: TakenEvents) -> TakenEvents:
    """With the backlog lane on, the batch without the events of tenants that have more waiting than it took;
    one backlog wake-up (after commit) for each such tenant with own events of this message still waiting
    (whether this batch took them or another transaction held them).

    Left out, those events stay undispatched (their row locks end with the transaction), and the backlog
    lane's worker takes them in full batches. A wake-up per message that carried them keeps a wake-up for
    every batch's worth of them, as the events queue had; the outbox sweeper catches anything else. A
    tenant whose taken events include one older than ``BACKLOG_LANE_FALLBACK`` is matched here.
    """
    taken_ids = [event.pk for event in taken.events]
    overdue = timezone.now() - BACKLOG_LANE_FALLBACK
    stale = {event.tenant_id for event in taken.events if event.received_at < overdue}
    backlogged = {
        tenant
        for tenant in taken.backlogged - stale
        if Event.objects.filter(tenant_id=tenant, dispatched_at__isnull=True).exclude(pk__in=taken_ids).exists()
    }
    if not backlogged:
        return taken
    for tenant in sorted(backlogged & taken.own_tenants):
        publish_on_commit(task_names.MATCH_BACKLOG, [tenant])
    kept = [event for event in taken.events if event.tenant_id not in backlogged]
    return TakenEvents(kept, taken.backlogged - backlogged, taken.own_tenants)


def log_matches(
    event_ids: list[int], run_here: bool, tenant_ids: list[str] | None = None
) -> tuple[list[AutomationExecution], list[list[AutomationExecution]]]:
    """Log the events' executions and mark them dispatched; returns those created and those to run here,
    in groups to run one after the other: the executions of tenants with nothing more waiting first, then
    those of backlogged tenants (one group when all are alike). ``tenant_ids``: the backlog lane's batch."""
    rules_by_key: dict[tuple[str, str], list[AutomationRule]] = {}
    with write_transaction():
        taken = take_events(event_ids, tenant_ids)
        if tenant_ids is None and backlog_lane_on():
            taken = leave_to_backlog_lane(taken)
        elif tenant_ids is not None and taken.backlogged:
            # The lane's batch was full and more may wait: one more wake-up keeps the lane going on its own
            # (one that finds nothing left does nothing).
            publish_on_commit(task_names.MATCH_BACKLOG, sorted(taken.backlogged))
        events = taken.events
        if not events:
            return [], []
        requests = []
        for event in events:
            key = (event.tenant_id, event.event_type)
            if key not in rules_by_key:
                rules_by_key[key] = event_rules(*key)
            trigger_data = None
            for rule in rules_by_key[key]:
                if not rule_accepts_event_source(rule, event.source):
                    continue
                logger.info(
                    "Event trigger matched: rule %s for %s #%s",
                    rule.pk,
                    event.event_type,
                    event.pk,
                    extra={**event.log_fields, "rule_id": rule.pk},
                )
                trigger_data = trigger_data or event_trigger_data(event)
                requests.append(TriggerRequest(rule, TriggerSource.EVENT, trigger_data, f"event:{event.pk}", event))
        created = executions_create(requests, read_taken=False)  # the events were undispatched, now locked
        _mark_dispatched([e.pk for e in events], timezone.now())
        pending = [e for e in created if e.status == ExecutionStatus.PENDING]
        size = batch_size()
        here, queued = (pending[:size], pending[size:]) if run_here else ([], pending)
        for chunk in chunks([e.pk for e in queued]):
            publish_on_commit(task_names.RUN_EXECUTIONS, chunk)
    quiet = [e for e in here if e.tenant_id not in taken.backlogged]
    backlogged = [e for e in here if e.tenant_id in taken.backlogged]
    return created, [group for group in (quiet, backlogged) if group]


def match_events(event_ids: list[int], run_here: bool = True) -> list[AutomationExecution]:
    """Create the executions of every rule the events taken for ``event_ids`` match (``take_events``: the
    message's own, and a fair share of what waits), then run the first batch of them here (all queued
    without ``run_here``): the executions of tenants with nothing more waiting first, then those of
    backlogged tenants, so a quiet tenant's webhook does not wait for a flood's batch. Returns the
    executions created.

    A redelivered message finds its events dispatched and does nothing; the (rule, "event:<id>")
    constraint refuses a second execution anyway.
    """
    return _match_and_run(event_ids, run_here)


def match_backlog(tenant_ids: list[str]) -> list[AutomationExecution]:
    """The backlog lane (AUTOMATIONS["BACKLOG_LANE"]): a full, fair batch of the tenants' oldest waiting
    events, matched and run here, the quiet ones' first, as ``match_events``; returns the executions created."""
    return _match_and_run([], True, tenant_ids)


def _match_and_run(
    event_ids: list[int], run_here: bool, tenant_ids: list[str] | None = None
) -> list[AutomationExecution]:
    created, groups = log_matches(event_ids, run_here, tenant_ids)
    for group in groups:
        run_loaded(group)
    return created


def match_event(event_id: int) -> MatchResult | None:
    """Match one event (``match_events`` with its executions queued, not run here): what matched and what
    was created (nothing for an event already dispatched)."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return None
    matched = [rule.pk for rule in rules_matching_event(event)]
    created = match_events([event_id], run_here=False)
    return MatchResult(event.pk, matched, [execution.pk for execution in created])
