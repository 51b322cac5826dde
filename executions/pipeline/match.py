"""Step 1 for events: match undispatched events to the tenant's rules and log their executions.

One short transaction takes the events (on PostgreSQL topped up with other waiting ones, ``SKIP
LOCKED``), reads each (tenant, event type)'s rules once, logs the executions (``create.executions_create``)
and marks the events dispatched. The first batch of new executions then runs in this process
(``run.run_loaded``); the rest are queued after commit as ``run_executions_task`` batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from automations.models import AutomationRule
from executions import task_names
from executions.choices import ExecutionStatus, TriggerSource
from executions.dispatch import batch_size, chunks, publish_on_commit
from executions.models import AutomationExecution, Event
from executions.pipeline.create import TriggerRequest, executions_create
from executions.pipeline.run import run_loaded
from executions.selectors import event_rules, rule_accepts_event_source, rules_matching_event
from governance.common.db_locks import write_transaction

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


def holds_write_lock() -> bool:
    """True when this transaction excludes every other writer: SQLite with ``transaction_mode`` IMMEDIATE
    (this project's setting), where ``BEGIN IMMEDIATE`` takes the database's one write lock."""
    options = connection.settings_dict.get("OPTIONS", {})
    return connection.vendor == "sqlite" and str(options.get("transaction_mode", "")).upper() == "IMMEDIATE"


def take_events(event_ids: list[int]) -> list[Event]:
    """The undispatched events among ``event_ids``, topped up with other undispatched events, oldest
    first, up to a batch; call inside the write transaction that marks them dispatched.

    Topping up turns a queue of one-event messages into batches under load (one wake-up carries many
    events); the messages of events taken here then find them dispatched and do nothing. No event is
    taken twice: on PostgreSQL the rows are locked ``SKIP LOCKED`` (an event another worker is matching
    right now is left to it); on SQLite the transaction holds the database's write lock from its
    ``BEGIN IMMEDIATE``, so no other transaction can take or mark anything until this one commits.
    Elsewhere each message takes only its own events.
    """
    undispatched = Event.objects.filter(dispatched_at__isnull=True).order_by("id")
    skip_locked = connection.features.has_select_for_update_skip_locked
    if not skip_locked and not holds_write_lock():
        return list(undispatched.filter(pk__in=event_ids))
    mine = undispatched.filter(pk__in=event_ids)
    events = list(mine.select_for_update(skip_locked=True) if skip_locked else mine)
    room = batch_size() - len(events)
    if room > 0:
        others = Event.objects.filter(dispatched_at__isnull=True).exclude(pk__in=event_ids).order_by("received_at")
        events.extend(others.select_for_update(skip_locked=True)[:room] if skip_locked else others[:room])
    return events


def log_matches(event_ids: list[int], run_here: bool) -> tuple[list[AutomationExecution], list[AutomationExecution]]:
    """Log the events' executions and mark them dispatched; returns those created and those to run here."""
    rules_by_key: dict[tuple[str, str], list[AutomationRule]] = {}
    with write_transaction():
        events = take_events(event_ids)
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
        created = executions_create(requests)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=timezone.now())
        pending = [e for e in created if e.status == ExecutionStatus.PENDING]
        size = batch_size()
        here, queued = (pending[:size], pending[size:]) if run_here else ([], pending)
        for chunk in chunks([e.pk for e in queued]):
            publish_on_commit(task_names.RUN_EXECUTIONS, chunk)
    return created, here


def match_events(event_ids: list[int], run_here: bool = True) -> list[AutomationExecution]:
    """Create the executions of every rule the undispatched events among ``event_ids`` match, then run
    the first batch of them here (all queued without ``run_here``). Returns the executions created.

    A redelivered message finds its events dispatched and does nothing; the (rule, "event:<id>")
    constraint refuses a second execution anyway.
    """
    created, here = log_matches(event_ids, run_here)
    run_loaded(here)
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
