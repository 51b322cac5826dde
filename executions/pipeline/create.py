"""Step 2, the execution log: one ``AutomationExecution`` per trigger, pending (or blocked by loop protection).

``executions_create`` is the only code that logs executions: events (``match``), schedules, thresholds,
behaviours (``trigger_rules`` / ``trigger_rule``) and manual runs (``run.execute_rule_manually``) all
call it. The (rule, occurrence_key) unique constraint makes a repeated occurrence create nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from automations.conf import app_settings
from automations.kinds.actions import action_contact_channels
from automations.models import AutomationRule, RuleVersion
from executions import task_names
from executions.choices import ExecutionStatus, TriggerSource
from executions.context import json_safe
from executions.dispatch import chunks, publish_on_commit
from executions.failures import failure_kind_for
from executions.models import AutomationExecution, Event
from executions.monitoring import count_ended
from executions.pipeline.chains import ChainLink, causal_chain, chain_loop_reason
from executions.rollups import rollups_add_executions
from governance.common.db_locks import write_transaction
from governance.common.sql_instances import column_of, insert_new_instances, placeholders

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriggerRequest:
    """One rule to fire. ``actor_id``: the authenticated user behind a manual run (an event's is its poster)."""

    rule: AutomationRule
    trigger_source: str
    trigger_data: dict[str, Any] | None
    occurrence_key: str | None = None
    event: Event | None = None
    actor_id: int | None = None


def check_trigger_arguments(trigger_source: str, trigger_data: object, occurrence_key: object) -> None:
    """Raise ValidationError naming the field when a trigger's arguments are malformed."""
    if trigger_source not in TriggerSource.values:
        raise ValidationError(
            {"trigger_source": [f'"{trigger_source}" is not one of {", ".join(TriggerSource.values)}']}
        )
    if trigger_data is not None and not isinstance(trigger_data, dict):
        raise ValidationError({"trigger_data": ["must be a JSON object"]})
    if occurrence_key is not None and (not isinstance(occurrence_key, str) or not 0 < len(occurrence_key) <= 255):
        raise ValidationError({"occurrence_key": ["must be a string of 1 to 255 characters"]})


def loop_block_reason(event: Event | None) -> str:
    limit = int(app_settings.MAX_CAUSATION_DEPTH)
    if event is None or event.causation_depth <= limit:
        return ""
    return (
        f"loop protection: event #{event.pk} is {event.causation_depth} actions deep "
        f"(AUTOMATIONS['MAX_CAUSATION_DEPTH'] is {limit})"
    )


def execution_customer_id(request: TriggerRequest) -> str:
    """The customer a run is about: its event's ``customer_id``, or the behaviour listener's customer; ""
    for any other run (a schedule, a threshold, a manual run: never capped). Never a payload's own key."""
    if request.event is not None:
        return request.event.customer_id or ""
    if request.trigger_source == TriggerSource.BEHAVIOR and isinstance(request.trigger_data, dict):
        customer = request.trigger_data.get("customer_id")
        return customer if isinstance(customer, str) else ""
    return ""


def channels_column(channels: frozenset[str]) -> str:
    """How ``AutomationExecution.contact_channels`` stores a set: ",email,any," ("" for none)."""
    return f",{','.join(sorted(channels))}," if channels else ""


def new_execution(
    request: TriggerRequest, now: dt.datetime, chains: dict[int, list[ChainLink]] | None = None
) -> AutomationExecution:
    """The unsaved execution a trigger logs: pending, or blocked by loop protection with the reason: the
    event is too deep in a chain of actions (``cap_reached``), or the rule already ran for the same subject
    earlier in the event's chain (``chain_loop``, ``executions.pipeline.chains``).

    Its actor (``triggered_by``) is the event's poster for an event, else the request's (a manual run's caller).
    ``chains``: the causal chains already read, by event id (a batch reads each event's once).
    """
    rule, event = request.rule, request.event
    customer_id = execution_customer_id(request)
    channels = action_contact_channels(rule.action_type, rule.action_config) if customer_id else frozenset()
    execution = AutomationExecution(
        automation_rule=rule,
        tenant_id=rule.tenant_id,
        event=event,
        occurrence_key=request.occurrence_key,
        rule_version_id=getattr(rule, "current_version_id", None),
        trigger_source=request.trigger_source,
        trigger_data=json_safe(request.trigger_data or {}),
        triggered_at=now,
        triggered_by_id=event.actor_id if event is not None else request.actor_id,
        customer_id=customer_id,
        contact_channels=channels_column(channels),
    )
    block_reason = loop_block_reason(event)
    if not block_reason and event is not None and event.caused_by_execution_id is not None:
        chains = {} if chains is None else chains
        if event.pk not in chains:
            chains[event.pk] = causal_chain(event)
        block_reason = chain_loop_reason(rule.pk, rule.name, event, chains[event.pk])
    execution.set_status(ExecutionStatus.BLOCKED if block_reason else ExecutionStatus.PENDING)
    execution.error_message = block_reason
    execution.failure_kind = failure_kind_for(execution.status, block_reason)
    return execution


def read_current_versions(rules: list[AutomationRule]) -> None:
    """Give every rule its ``current_version_id`` (as ``event_rules`` reads it along), with one query."""
    missing = {rule.pk for rule in rules if not hasattr(rule, "current_version_id")}
    if not missing:
        return
    current = RuleVersion.objects.filter(rule_id=OuterRef("pk"), version=OuterRef("version")).values("id")[:1]
    found = dict(
        AutomationRule.all_objects.filter(pk__in=missing)
        .annotate(version_id=Subquery(current))
        .values_list("pk", "version_id")
    )
    for rule in rules:
        if rule.pk in missing:
            rule.current_version_id = found.get(rule.pk)  # type: ignore[attr-defined]  # as event_rules annotates it


def rules_mark_triggered(rule_ids: set[str], now: dt.datetime) -> int:
    """Set the rules' ``last_triggered_at``, skipping rows another transaction holds; returns how many.

    TRICKY: batches that fire overlapping rules would lock the rule rows in whatever order each UPDATE
    scans them, and two such batches deadlock (seen under plain load on PostgreSQL). Locking the free rows
    first, in primary-key order, with SKIP LOCKED, never waits: a row another batch holds is being stamped
    by that batch at the same moment. (SQLite locks the whole database instead, so the clause is left out.)
    """
    if not rule_ids:
        return 0
    # Hand-written: this runs for every batch the pipeline matches, where compiling the queryset's subquery
    # cost more CPU than the statement.
    quote = connection.ops.quote_name
    table, key = quote(AutomationRule._meta.db_table), quote(column_of(AutomationRule, "id"))
    ids = sorted(rule_ids)
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    sql = (
        f"UPDATE {table} SET {quote(column_of(AutomationRule, 'last_triggered_at'))} = %s "
        f"WHERE {key} IN (SELECT {key} FROM {table} WHERE {key} IN ({placeholders(len(ids))}) ORDER BY {key}{lock})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *ids])
        return int(cursor.rowcount)


def executions_create(requests: list[TriggerRequest], read_taken: bool = True) -> list[AutomationExecution]:
    """Log one execution per request; skip occurrences already logged. Returns those created, in order.

    Raises ValidationError naming the field for a malformed request (nothing is created then). One
    insert for all when the database returns ids from a bulk insert and no (rule, occurrence) pair was
    taken meanwhile; else one insert each in its own savepoint, where the unique constraint decides.
    Call inside a transaction to make it all or nothing.

    ``read_taken=False`` skips reading which occurrences are logged already, for a caller whose occurrences
    cannot have an execution yet (events it took undispatched under lock): the unique constraint still
    refuses any that has, through the one-by-one inserts.
    """
    for request in requests:
        check_trigger_arguments(request.trigger_source, request.trigger_data, request.occurrence_key)
    keyed = [r for r in requests if r.occurrence_key is not None]
    taken = set(
        AutomationExecution.objects.filter(
            automation_rule_id__in={r.rule.pk for r in keyed}, occurrence_key__in={r.occurrence_key for r in keyed}
        ).values_list("automation_rule_id", "occurrence_key")
        if keyed and read_taken
        else ()
    )
    now = timezone.now()
    read_current_versions([r.rule for r in requests])
    fresh: list[AutomationExecution] = []
    chains: dict[int, list[ChainLink]] = {}
    for request in requests:
        if request.occurrence_key is not None:
            pair = (request.rule.pk, request.occurrence_key)
            if pair in taken:
                logger.info(
                    "rule %s already has an execution for %s",
                    request.rule.pk,
                    request.occurrence_key,
                    extra=request.rule.log_fields,
                )
                continue
            taken.add(pair)
        fresh.append(new_execution(request, now, chains))
    if not fresh:
        return []
    created = _insert(fresh)
    rules_mark_triggered({e.automation_rule_id for e in created}, now)
    blocked = [execution for execution in created if execution.status == ExecutionStatus.BLOCKED]
    rollups_add_executions(blocked)  # ended as they were logged
    count_ended(blocked)
    for execution in created:
        if execution.status == ExecutionStatus.BLOCKED:
            logger.warning(
                "execution %s of rule %s blocked: %s",
                execution.pk,
                execution.automation_rule_id,
                execution.error_message,
                extra=execution.log_fields,
            )
    return created


def _insert(fresh: list[AutomationExecution]) -> list[AutomationExecution]:
    if all(execution.occurrence_key is not None for execution in fresh):
        # Every event's and listener occurrence's executions: one INSERT ... ON CONFLICT DO NOTHING, where the
        # (rule, occurrence_key) constraint skips an occurrence a concurrent trigger logged first.
        created = insert_new_instances(fresh, ("automation_rule", "occurrence_key"))
        inserted = {id(execution) for execution in created}
        for execution in fresh:
            if id(execution) not in inserted:
                _log_taken(execution)
        return created
    if connection.features.can_return_rows_from_bulk_insert:
        try:
            with transaction.atomic():
                return AutomationExecution.objects.bulk_create(fresh)
        except IntegrityError:
            for execution in fresh:  # a concurrent trigger logged one of these occurrences first
                execution.pk = None
                execution._state.adding = True
    created = []
    for execution in fresh:
        try:
            with transaction.atomic():
                execution.save(force_insert=True)
        except IntegrityError:
            # The (rule, occurrence_key) unique constraint: this occurrence already has its execution.
            _log_taken(execution)
            continue
        created.append(execution)
    return created


def _log_taken(execution: AutomationExecution) -> None:
    logger.info(
        "rule %s already has an execution for %s",
        execution.automation_rule_id,
        execution.occurrence_key,
        extra={**execution.log_fields, "execution_id": None},
    )


def trigger_rules(requests: list[TriggerRequest]) -> list[AutomationExecution]:
    """Log the executions of many triggers, then queue the pending ones in batches after commit."""
    with write_transaction():
        created = executions_create(requests)
        pending = [e.pk for e in created if e.status == ExecutionStatus.PENDING]
        for chunk in chunks(pending):
            publish_on_commit(task_names.RUN_EXECUTIONS, chunk)
    return created


def trigger_rule(
    rule: AutomationRule,
    trigger_source: str,
    trigger_data: dict[str, Any] | None,
    occurrence_key: str | None = None,
    event: Event | None = None,
) -> AutomationExecution | None:
    """``trigger_rules`` for one: the execution logged (and queued after commit), or None when
    ``occurrence_key`` already has one for this rule. Past AUTOMATIONS["MAX_CAUSATION_DEPTH"] it is stored
    ``blocked`` with the reason and not queued."""
    created = trigger_rules([TriggerRequest(rule, trigger_source, trigger_data, occurrence_key, event)])
    return created[0] if created else None
