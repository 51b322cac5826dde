"""The pipeline in batches: many events or executions per task, few queries and commits per item.

The single-item services (``match_event``, ``run_execution``, ``trigger_rule``) define each step; a
batch takes the same steps with the same guarded updates, and only shares the work around them:

- ``trigger_rules``: the executions of many triggers inserted with one statement when none of their
  (rule, occurrence) pairs exists yet (else one by one, where the unique constraint decides), then
  queued as ``run_executions_task`` messages of up to ``AUTOMATIONS_PIPELINE_BATCH_SIZE`` ids.
- ``match_events``: the events' rules read once per (tenant, event type), their executions created as
  above and the events marked dispatched, in one transaction; then the first batch of them is
  evaluated and run as ``run_executions`` does.
- ``run_executions``: the executions read with one query; conditions and governance evaluated outside
  any transaction, the tenant facts read once per tenant (``evaluate_batch``); then one short
  transaction records every evaluation with one guarded UPDATE and inserts the cleared executions'
  webhook deliveries claimed (``record_batch``); then the POSTs go out in parallel and every attempt
  and result is recorded in one more transaction, with the rules' totals written once per rule.

No transaction holds a write lock while anything slow runs (a rule's conditions, governance, fact
providers, webhook POSTs): each one only claims or records.

If a worker dies anywhere in a batch, each item is left in a state the sweepers already handle (an
undispatched event, a pending execution, a running one whose lease runs out, a claimed delivery),
exactly as for a single item.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from automations.models import AutomationRule
from config.db_locks import write_transaction
from executions.actions import ActionResult, get_command_builder
from executions.actions.deliver import NO_ENDPOINT, result_of_deliveries
from executions.choices import ExecutionStatus, TriggerSource
from executions.delivery.services import (
    DeliveryClaims,
    DeliveryRequest,
    deliveries_claim,
    deliveries_post,
    deliveries_record,
    endpoints_for_action,
    webhook_payload,
)
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
                _create_execution(
                    e.automation_rule, e.trigger_source, e.trigger_data, e.occurrence_key, e.event, e.triggered_by_id
                )
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
    with write_transaction():
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

    1. One short transaction creates the executions and marks the events dispatched (a redelivered
       message finds them dispatched and does nothing; the (rule, "event:<id>") constraint refuses a
       second execution anyway). On PostgreSQL it also takes other waiting events, up to a batch
       (``_take_events``). Executions past the first batch (all of them without ``run_here``) are
       queued after it commits.
    2. With ``run_here``, the first batch is evaluated outside any transaction (``evaluate_batch``),
       then recorded and its action attempts claimed in one more short transaction
       (``record_batch``); the actions run after that commits (``run_attempts``).

    Returns the executions created.
    """
    created, here = _log_matches(event_ids, run_here)
    if here:
        run_attempts(record_batch(evaluate_batch(here)))
    return created


def _log_matches(event_ids: list[int], run_here: bool) -> tuple[list[AutomationExecution], list[AutomationExecution]]:
    """Step 1 of ``match_events``: returns the executions created and those to evaluate in this process."""
    rules_by_key: dict[tuple[str, str], list[AutomationRule]] = {}
    with write_transaction():
        events = _take_events(event_ids)
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
                logger.info("Event trigger matched: rule %s for %s #%s", rule.pk, event.event_type, event.pk)
                trigger_data = trigger_data or event_trigger_data(event)
                requests.append(TriggerRequest(rule, TriggerSource.EVENT, trigger_data, f"event:{event.pk}", event))
        created = executions_create(requests)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=timezone.now())
        pending = [e for e in created if e.status == ExecutionStatus.PENDING]
        size = batch_size()
        here, queued = (pending[:size], pending[size:]) if run_here else ([], pending)
        for chunk in chunks([e.pk for e in queued]):
            publish_on_commit("run_executions_task", chunk)
    return created, here


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
    attempts = record_batch(evaluate_batch([e for e in executions if e.status == ExecutionStatus.PENDING]))
    for execution in executions:
        if execution.status in (ExecutionStatus.APPROVED, ExecutionStatus.RETRYING):
            execution_run_action(execution.pk)
    run_attempts(attempts)
    return executions


@dataclass
class ClaimedAttempts:
    """Action attempts a transaction has claimed, to run once it commits (``run_attempts``).

    ``sending``: webhook commands whose deliveries are claimed in ``deliveries`` (same order);
    ``decided``: results known without sending (no endpoint for the action); ``one_by_one``: attempts
    that run through their handler (``_run_claimed_attempt``): handlers without a command builder
    (send_notification, a host project's override), several endpoints, a delivery that already existed.
    """

    sending: list[tuple[AutomationExecution, AutomationRule, dict[str, Any]]] = field(default_factory=list)
    deliveries: DeliveryClaims | None = None
    decided: list[tuple[AutomationExecution, AutomationRule, ActionResult]] = field(default_factory=list)
    one_by_one: list[tuple[AutomationExecution, AutomationRule]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def evaluate_batch(executions: list[AutomationExecution]) -> list[tuple[AutomationExecution, Evaluation]]:
    """Conditions and governance for pending executions, each tenant's facts read once; changes nothing.

    Call outside any transaction: a rule's conditions, governance and fact providers may read much and
    take long, and must not hold a write lock meanwhile (on SQLite the only one).
    """
    facts_by_tenant: dict[str, dict[str, Any]] = {}
    evaluated: list[tuple[AutomationExecution, Evaluation]] = []
    for execution in executions:
        tenant = execution.automation_rule.tenant
        if tenant.pk not in facts_by_tenant:
            facts_by_tenant[tenant.pk] = tenant_facts(tenant)
        evaluated.append((execution, evaluate_pending(execution, facts=facts_by_tenant[tenant.pk])))
    return evaluated


def record_batch(evaluated: list[tuple[AutomationExecution, Evaluation]]) -> ClaimedAttempts:
    """Record evaluations and claim the cleared executions' action attempts, in one short transaction.

    The evaluations (one guarded ``pending -> ...`` UPDATE for all, or one each where
    ``rows.supported()`` is false, and always for those awaiting approval), the claimed webhook
    deliveries and their in-flight attempt rows commit together, before anything is sent. An execution
    another worker recorded first is not this batch's to go on with.
    """
    if not evaluated:
        return ClaimedAttempts()
    with write_transaction():
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
        return _prepare_attempts(claimed)


def _prepare_attempts(claimed: list[tuple[AutomationExecution, AutomationRule]]) -> ClaimedAttempts:
    """Build the claimed attempts' webhook commands and claim their deliveries (inside the transaction)."""
    attempts = ClaimedAttempts()
    endpoints_by_key: dict[tuple[str, str], list[Any]] = {}
    requests: list[DeliveryRequest] = []
    for execution, rule in claimed:
        builder = get_command_builder(rule.action_type)
        key = (execution.tenant_id, rule.action_type)
        if builder is not None and key not in endpoints_by_key:
            endpoints_by_key[key] = endpoints_for_action(*key)
        if builder is None or len(endpoints_by_key[key]) > 1:
            attempts.one_by_one.append((execution, rule))
            continue
        config = rule.action_config if isinstance(rule.action_config, dict) else {}
        try:
            command = builder(execution, dict(config))
        except Exception:  # the handler boundary: its own run records the failure (_call_handler)
            logger.exception("action handler %s failed for execution %s", rule.action_type, execution.pk)
            attempts.one_by_one.append((execution, rule))
            continue
        if not endpoints_by_key[key]:
            attempts.decided.append((execution, rule, ActionResult.succeeded(command=command, delivery=NO_ENDPOINT)))
            continue
        attempts.sending.append((execution, rule, command))
        payload = webhook_payload(execution, rule.action_type, command)
        requests.append(DeliveryRequest(execution, endpoints_by_key[key][0], payload, rule.action_type))
    attempts.deliveries = deliveries_claim(requests)
    for index in attempts.deliveries.unclaimed:
        attempts.one_by_one.append(attempts.sending[index][:2])
    return attempts


def run_attempts(attempts: ClaimedAttempts) -> None:
    """Run claimed attempts after their transaction committed: POST the claimed deliveries in parallel,
    then record every delivery's attempt and every execution's result in one transaction (totals once
    per rule); the one-by-one attempts run last."""
    if attempts.deliveries is not None and attempts.deliveries.claims:
        posted = deliveries_post(attempts.deliveries)
    else:
        posted = {}
    results: list[tuple[AutomationExecution, AutomationRule, ActionResult]] = list(attempts.decided)
    if results or posted:
        with write_transaction():
            outcomes = deliveries_record(attempts.deliveries, posted) if posted else {}
            for index, outcome in outcomes.items():
                execution, rule, command = attempts.sending[index]
                status, next_attempt_at = outcome.execution_status, outcome.next_attempt_at
                results.append(
                    (execution, rule, result_of_deliveries(execution.pk, command, [outcome], status, next_attempt_at))
                )
            elapsed_ms = (time.monotonic() - attempts.started) * 1000 / max(1, len(results))
            if rows.supported():
                record_results(
                    [
                        (execution, result_record(execution, rule, execution.action_attempts, result, elapsed_ms))
                        for execution, rule, result in results
                    ]
                )
            else:
                for execution, rule, result in results:
                    _record_result(execution, rule, execution.action_attempts, result, elapsed_ms)
    for execution, rule in attempts.one_by_one:
        _run_claimed_attempt(execution, rule)
