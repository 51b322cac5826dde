"""The pipeline in batches: many events or executions per task, few queries and commits per item.

The single-item services (``match_event``, ``run_execution``, ``trigger_rule``) define each step; a
batch takes the same steps with the same guarded updates, and only shares the work around them:

- ``trigger_rules``: the executions of many triggers inserted with one statement when none of their
  (rule, occurrence) pairs exists yet (else one by one, where the unique constraint decides), then
  queued as ``run_executions_task`` messages of up to ``AUTOMATIONS_PIPELINE_BATCH_SIZE`` ids.
- ``match_events``: the events' rules read once per (tenant, event type), their executions created as
  above and the events marked dispatched, in one transaction; then run here (``run_executions``).
- ``run_executions``: the executions read with one query, the tenant facts once per tenant, every
  evaluation recorded in one transaction, webhook commands sent together (``deliver_commands``: one
  insert of claimed deliveries, parallel POSTs) and every result recorded in one more transaction,
  with the rules' totals written once per rule.

If a worker dies anywhere in a batch, each item is left in a state the sweepers already handle (an
undispatched event, a pending execution, a running one whose lease runs out, a claimed delivery),
exactly as for a single item.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from automations.models import AutomationRule
from executions.actions import ActionResult, get_command_builder
from executions.actions.deliver import deliver_commands
from executions.choices import ExecutionStatus, TriggerSource
from executions.models import AutomationExecution, Event
from executions.selectors import event_rules, rule_accepts_event_source
from executions.services import rows
from executions.services.context import tenant_facts
from executions.services.dispatch import publish_on_commit
from executions.services.events import event_trigger_data
from executions.services.pipeline import (
    Evaluation,
    _create_execution,
    _record_result,
    _run_claimed_attempt,
    check_trigger_arguments,
    evaluate_pending,
    execution_run_action,
    new_execution,
    record_evaluation,
    record_evaluations,
    record_results,
    result_record,
)

logger = logging.getLogger(__name__)


def batch_size() -> int:
    return max(1, int(settings.AUTOMATIONS_PIPELINE_BATCH_SIZE))


def chunks(ids: list[int], size: int | None = None) -> Iterator[list[int]]:
    size = size or batch_size()
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


@dataclass(frozen=True)
class TriggerRequest:
    """One rule to fire: ``trigger_rule``'s arguments."""

    rule: AutomationRule
    trigger_source: str
    trigger_data: dict[str, Any] | None
    occurrence_key: str | None = None
    event: Event | None = None


# --- creating executions -------------------------------------------------------------------------


def executions_create(requests: list[TriggerRequest]) -> list[AutomationExecution]:
    """Log one execution per request (pending, or blocked by loop protection); skip occurrences already logged.

    Returns the executions created, in request order. Raises ValidationError naming the field for a
    malformed request (nothing is created then). Call inside a transaction to make it all or nothing.
    """
    for request in requests:
        check_trigger_arguments(request.trigger_source, request.trigger_data, request.occurrence_key)
    keyed = [r for r in requests if r.occurrence_key is not None]
    taken = set(
        AutomationExecution.objects.filter(
            automation_rule_id__in={r.rule.pk for r in keyed}, occurrence_key__in={r.occurrence_key for r in keyed}
        ).values_list("automation_rule_id", "occurrence_key")
        if keyed
        else ()
    )
    now = timezone.now()
    _read_current_versions([r.rule for r in requests])
    fresh: list[AutomationExecution] = []
    for request in requests:
        if request.occurrence_key is not None:
            pair = (request.rule.pk, request.occurrence_key)
            if pair in taken:
                logger.info("rule %s already has an execution for %s", request.rule.pk, request.occurrence_key)
                continue
            taken.add(pair)
        fresh.append(
            new_execution(
                request.rule,
                request.trigger_source,
                request.trigger_data,
                request.occurrence_key,
                request.event,
                now,
            )
        )
    if not fresh:
        return []
    from django.db import connection

    created: list[AutomationExecution] | None = None
    if connection.features.can_return_rows_from_bulk_insert:
        try:
            with transaction.atomic():
                created = AutomationExecution.objects.bulk_create(fresh)
        except IntegrityError:
            created = None  # a concurrent trigger logged one of these occurrences first: one by one below
    if created is None:
        created = [
            execution
            for execution in (
                _create_execution(e.automation_rule, e.trigger_source, e.trigger_data, e.occurrence_key, e.event)
                for e in fresh
            )
            if execution is not None
        ]
    else:
        AutomationRule.all_objects.filter(pk__in={e.automation_rule_id for e in created}).update(last_triggered_at=now)
    for execution in created:
        if execution.status == ExecutionStatus.BLOCKED:
            logger.warning(
                "execution %s of rule %s blocked: %s",
                execution.pk,
                execution.automation_rule_id,
                execution.error_message,
            )
    return created


def _read_current_versions(rules: list[AutomationRule]) -> None:
    """Give every rule its ``current_version_id`` (as ``event_rules`` reads it along), with one query."""
    from django.db.models import OuterRef, Subquery

    from automations.models import RuleVersion

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
            rule.current_version_id = found.get(rule.pk)


def trigger_rules(requests: list[TriggerRequest]) -> list[AutomationExecution]:
    """``trigger_rule`` for many: log the executions, then queue the pending ones in batches after commit."""
    with transaction.atomic():
        created = executions_create(requests)
        pending = [e.pk for e in created if e.status == ExecutionStatus.PENDING]
        for chunk in chunks(pending):
            publish_on_commit("run_executions_task", chunk)
    return created


# --- matching events -----------------------------------------------------------------------------


def _take_events(event_ids: list[int]) -> list[Event]:
    """The undispatched events among ``event_ids``, locked for this transaction; on PostgreSQL topped up
    with other undispatched events, oldest first, up to a batch.

    ``SKIP LOCKED``: an event another worker is matching right now is left to it. Topping up turns a
    queue of one-event messages into batches under load; the messages of events taken here then find
    them dispatched and do nothing. (SQLite has no row locks: there each message takes its own events.)
    """
    from django.db import connection

    undispatched = Event.objects.filter(dispatched_at__isnull=True).order_by("id")
    if not connection.features.has_select_for_update_skip_locked:
        return list(undispatched.filter(pk__in=event_ids))
    events = list(undispatched.filter(pk__in=event_ids).select_for_update(skip_locked=True))
    room = batch_size() - len(events)
    if room > 0:
        others = (
            Event.objects.filter(dispatched_at__isnull=True)
            .exclude(pk__in=event_ids)
            .order_by("received_at")
            .select_for_update(skip_locked=True)[:room]
        )
        events.extend(others)
    return events


def match_events(event_ids: list[int], run_here: bool = True) -> list[AutomationExecution]:
    """Create the executions of every rule the undispatched events among ``event_ids`` match, then run them.

    One transaction creates the executions and marks the events dispatched (a redelivered message finds
    them dispatched and does nothing; the (rule, "event:<id>") constraint refuses a second execution
    anyway). On PostgreSQL it also takes other waiting events, up to a batch (``_take_events``). With
    ``run_here`` the first batch of pending executions runs in this process after the commit and the rest
    are queued; otherwise all are queued. Returns the executions created.
    """
    rules_by_key: dict[tuple[str, str], list[AutomationRule]] = {}
    with transaction.atomic():
        events = _take_events(event_ids)
        if not events:
            return []
        requests = []
        for event in events:
            key = (event.tenant_id, event.event_type)
            if key not in rules_by_key:
                rules_by_key[key] = event_rules(*key)
            trigger_data = None
            for rule in rules_by_key[key]:
                if not rule_accepts_event_source(rule, event.source):
                    continue
                logger.info("Event trigger matched: rule %s for %s #%s", rule.pk, event.event_type, event.pk)
                trigger_data = trigger_data or event_trigger_data(event)
                requests.append(TriggerRequest(rule, TriggerSource.EVENT, trigger_data, f"event:{event.pk}", event))
        created = executions_create(requests)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=timezone.now())
        pending = [e.pk for e in created if e.status == ExecutionStatus.PENDING]
        batches = list(chunks(pending))
        for chunk in batches[1 if run_here else 0 :]:
            publish_on_commit("run_executions_task", chunk)
    if run_here and batches:
        run_executions(batches[0])
    return created


# --- running executions --------------------------------------------------------------------------


def _load(execution_ids: list[int]) -> list[AutomationExecution]:
    return list(
        AutomationExecution.objects.select_related(
            "automation_rule", "automation_rule__tenant", "automation_rule__assigned_council", "rule_version", "event"
        )
        .filter(pk__in=execution_ids)
        .order_by("id")
    )


def run_executions(execution_ids: list[int]) -> list[AutomationExecution]:
    """``run_execution`` for a batch: evaluate the pending ones and run the actions they clear.

    Approved or due retrying executions in the batch take ``execution_run_action`` one by one; any other
    state is left alone. Returns the executions as this call left them in memory.
    """
    executions = _load(execution_ids)
    facts_by_tenant: dict[str, dict[str, Any]] = {}
    claimed: list[tuple[AutomationExecution, AutomationRule]] = []
    with transaction.atomic():
        evaluated: list[tuple[AutomationExecution, Evaluation]] = []
        for execution in executions:
            if execution.status != ExecutionStatus.PENDING:
                continue
            tenant = execution.automation_rule.tenant
            if tenant.pk not in facts_by_tenant:
                facts_by_tenant[tenant.pk] = tenant_facts(tenant)
            evaluated.append((execution, evaluate_pending(execution, facts=facts_by_tenant[tenant.pk])))
        together = [pair for pair in evaluated if pair[1].status != ExecutionStatus.AWAITING_APPROVAL]
        if not rows.supported():
            together = []
        won = record_evaluations(together) if together else set()
        recorded_together = {execution.pk for execution, _evaluation in together}
        for execution, evaluation in evaluated:
            if execution.pk not in recorded_together and record_evaluation(execution, evaluation):
                won.add(execution.pk)
        claimed = [
            (execution, evaluation.rule)
            for execution, evaluation in evaluated
            if execution.pk in won and evaluation.status == ExecutionStatus.RUNNING
        ]
    for execution in executions:
        if execution.status in (ExecutionStatus.APPROVED, ExecutionStatus.RETRYING):
            execution_run_action(execution.pk)
    run_claimed_attempts(claimed)
    return executions


def run_claimed_attempts(claimed: list[tuple[AutomationExecution, AutomationRule]]) -> None:
    """Run the action attempts this caller has just claimed; webhook commands go out together.

    An action type with a built-in command builder (``get_command_builder``) has its commands built
    here and delivered as one batch, and the results recorded in one transaction; any other handler
    (notifications, a host project's override) runs through ``_run_claimed_attempt`` one by one.
    """
    together: list[tuple[AutomationExecution, AutomationRule, dict[str, Any]]] = []
    for execution, rule in claimed:
        builder = get_command_builder(rule.action_type)
        if builder is None:
            _run_claimed_attempt(execution, rule)
            continue
        config = rule.action_config if isinstance(rule.action_config, dict) else {}
        try:
            command = builder(execution, dict(config))
        except Exception as error:  # the handler boundary, as in _call_handler: fail this execution only
            logger.exception("action handler %s failed for execution %s", rule.action_type, execution.pk)
            _record_result(
                execution, rule, execution.action_attempts, ActionResult.failed(f"{type(error).__name__}: {error}"), 0.0
            )
            continue
        together.append((execution, rule, command))
    if not together:
        return
    started = time.monotonic()
    results = deliver_commands([(execution, rule.action_type, command) for execution, rule, command in together])
    elapsed_ms = (time.monotonic() - started) * 1000 / len(together)
    if not rows.supported():
        for (execution, rule, _command), result in zip(together, results, strict=True):
            _record_result(execution, rule, execution.action_attempts, result, elapsed_ms)
        return
    records = [
        (execution, rule, result_record(execution, rule, execution.action_attempts, result, elapsed_ms))
        for (execution, rule, _command), result in zip(together, results, strict=True)
    ]
    with transaction.atomic():
        record_results(records)
