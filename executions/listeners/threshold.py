"""The threshold monitor: fire a rule once per upward crossing of its metric's threshold.

Two ways in, one logic (``executions.listeners.crossing``):

- ``check_metric_thresholds(tenant_id, metric)`` runs right after a pushed sample commits (queued by
  ``record_metric_samples``) and steps each watching rule through every sample newer than its state,
  in order, so a quick false -> true -> false between two checks still fires once.
- ``check_thresholds()`` is the five-minute tick over all enabled threshold rules: it asks each pull
  provider once per (tenant, metric), reads the latest sample for pushed metrics, and promotes pending
  states whose ``for_minutes`` has passed.

State lives in ``ThresholdState`` (one row per rule) and is written with compare-and-set on its
``version``; a firing writes its state and calls ``trigger_rule`` in one transaction with occurrence
key ``threshold:<crossing number>:<met_since>``, unique per crossing, so a doubled tick or two workers fire it once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from automations.choices import TriggerType
from automations.conditions.threshold import compare
from automations.models import AutomationRule
from automations.schedule_times import format_utc
from executions.choices import TriggerSource
from executions.listeners.crossing import CrossingState, step_crossing
from executions.listeners.metrics import Observation, pull_observation
from executions.models import MetricSample, ThresholdState
from executions.providers import metric_providers
from governance.models import Tenant

if TYPE_CHECKING:
    from executions.pipeline import TriggerRequest

logger = logging.getLogger(__name__)

WRITE_BATCH = 500
MAX_SAMPLES_PER_CHECK = 200


@dataclass
class ThresholdTickResult:
    rules: int = 0
    unavailable: int = 0  # no value for the metric (nothing pushed, provider gave none or failed)
    changed: int = 0  # states written without firing
    fired: int = 0
    skipped: int = 0  # another writer changed the state first
    errors: int = 0


@dataclass(frozen=True)
class _Plan:
    rule: AutomationRule
    row: ThresholdState | None
    fingerprint: str
    state: CrossingState
    fires: list[tuple[CrossingState, Observation]]


STATE_FIELDS = tuple(f"threshold_state__{field.name}" for field in ThresholdState._meta.concrete_fields)


def threshold_rules() -> QuerySet[AutomationRule]:
    """Enabled, live threshold rules with their state (the columns the check reads; others load on use)."""
    return (
        AutomationRule.objects.filter(trigger_type=TriggerType.THRESHOLD, enabled=True)
        .select_related("threshold_state")
        .only("id", "tenant_id", "trigger_config", *STATE_FIELDS)
    )


def check_thresholds(now: dt.datetime | None = None) -> ThresholdTickResult:
    """The five-minute tick over every enabled threshold rule; returns counts."""
    now = now or timezone.now()
    rules = list(
        threshold_rules()
        .annotate(metric_name=KT("trigger_config__metric"))
        .annotate(
            latest_sample_id=Subquery(
                MetricSample.objects.filter(tenant_id=OuterRef("tenant_id"), metric=OuterRef("metric_name"))
                .order_by("-recorded_at", "-id")
                .values("id")[:1]
            )
        )
    )
    samples = MetricSample.objects.in_bulk([rule.latest_sample_id for rule in rules if rule.latest_sample_id])
    pulled = _pull(rules, now)
    observations: dict[str, list[Observation]] = {}
    for rule in rules:
        metric = rule.trigger_config.get("metric")
        if (rule.tenant_id, metric) in pulled:
            observation = pulled[(rule.tenant_id, metric)]
        else:
            sample = samples.get(rule.latest_sample_id)
            observation = Observation(sample.value, sample.recorded_at) if sample and sample.value is not None else None
        observations[rule.pk] = [observation] if observation is not None else []
    return _apply(rules, observations, now)


def check_metric_thresholds(tenant_id: str, metric: str, now: dt.datetime | None = None) -> ThresholdTickResult:
    """Check the rules of one tenant watching ``metric``, right after samples were pushed for it."""
    now = now or timezone.now()
    rules = list(threshold_rules().filter(tenant_id=tenant_id, trigger_config__metric=metric))
    if not rules:
        return ThresholdTickResult()
    provider = metric_providers().get(metric)
    observations: dict[str, list[Observation]] = {}
    if provider is not None:
        # A pulled metric: its provider is the source of truth, asked now.
        pulled = _pull(rules, now)
        observation = pulled.get((tenant_id, metric))
        return _apply(rules, {rule.pk: [observation] if observation else [] for rule in rules}, now)
    since = [_state_of(rule).last_observed_at for rule in rules]
    oldest = None if any(moment is None for moment in since) else min(since)  # type: ignore[type-var]
    recent = MetricSample.objects.filter(tenant_id=tenant_id, metric=metric)
    if oldest is not None:
        recent = recent.filter(recorded_at__gt=oldest)
    ordered = list(reversed(recent.order_by("-recorded_at", "-id")[:MAX_SAMPLES_PER_CHECK]))
    latest = ordered[-1:] or list(
        MetricSample.objects.filter(tenant_id=tenant_id, metric=metric).order_by("-recorded_at", "-id")[:1]
    )
    for rule in rules:
        last_seen = _state_of(rule).last_observed_at
        # A rule without state starts from the latest value: history before it never fires.
        newer = [s for s in ordered if s.recorded_at > last_seen] if last_seen is not None else []
        newer = newer or latest
        observations[rule.pk] = [Observation(s.value, s.recorded_at) for s in newer if s.value is not None]
    return _apply(rules, observations, now)


# --- steps -------------------------------------------------------------------------------------


def _pull(rules: Sequence[AutomationRule], now: dt.datetime) -> dict[tuple[str, str], Observation | None]:
    """Ask each pull provider once per (tenant, metric) an enabled rule watches."""
    providers = metric_providers()
    pairs = {
        (rule.tenant_id, rule.trigger_config.get("metric"))
        for rule in rules
        if rule.trigger_config.get("metric") in providers
    }
    if not pairs:
        return {}
    tenants = Tenant.objects.in_bulk({tenant_id for tenant_id, _ in pairs})
    pulled: dict[tuple[str, str], Observation | None] = {}
    for tenant_id, metric in sorted(pairs):
        try:
            pulled[(tenant_id, metric)] = pull_observation(providers[metric], tenants[tenant_id], now)
        except Exception:
            logger.exception(
                "metric provider for %s failed for tenant %s", metric, tenant_id, extra={"tenant_id": tenant_id}
            )
            pulled[(tenant_id, metric)] = None
    return pulled


def _fingerprint(config: dict[str, object]) -> str:
    return json.dumps([config.get(key) for key in ("metric", "operator", "value", "for_minutes")])


def _state_of(rule: AutomationRule) -> CrossingState:
    row = _row_of(rule)
    if row is None:
        return CrossingState()
    if row.config_fingerprint != _fingerprint(rule.trigger_config):
        # A changed rule starts afresh, but keeps counting crossings so occurrence keys stay unique.
        return CrossingState(crossings=row.crossings)
    return CrossingState(
        condition_met=row.condition_met,
        met_since=row.met_since,
        fired_at=row.fired_at,
        value_before_crossing=row.value_before_crossing,
        last_value=row.last_value,
        last_observed_at=row.last_observed_at,
        crossings=row.crossings,
    )


def _row_of(rule: AutomationRule) -> ThresholdState | None:
    try:
        return rule.threshold_state
    except ThresholdState.DoesNotExist:
        return None


def _material(state: CrossingState) -> tuple[object, ...]:
    """What makes a state change worth a write (a newer timestamp alone is not)."""
    return (
        state.condition_met,
        state.met_since,
        state.fired_at,
        state.value_before_crossing,
        state.last_value,
        state.crossings,
    )


def _plan(rule: AutomationRule, observations: list[Observation], now: dt.datetime) -> _Plan | None:
    config = rule.trigger_config
    fingerprint = _fingerprint(config)
    row = _row_of(rule)
    before = _state_of(rule)
    state = before
    fires: list[tuple[CrossingState, Observation]] = []
    for observation in observations:
        met = compare(str(config.get("operator")), observation.value, config.get("value"))
        step = step_crossing(
            state, met, observation.value, observation.observed_at, now, float(config.get("for_minutes") or 0)
        )
        state = step.state
        if step.fire:
            fires.append((state, observation))
    unchanged = row is not None and row.config_fingerprint == fingerprint and _material(state) == _material(before)
    if unchanged and not fires:
        return None
    return _Plan(rule, row, fingerprint, state, fires)


def _apply(
    rules: Sequence[AutomationRule], observations: dict[str, list[Observation]], now: dt.datetime
) -> ThresholdTickResult:
    """Plan every rule in memory, then write the changed states and fire, a batch per transaction."""
    result = ThresholdTickResult(rules=len(rules))
    plans: list[_Plan] = []
    for rule in rules:
        found = observations.get(rule.pk) or []
        if not found:
            result.unavailable += 1
            continue
        try:
            plan = _plan(rule, found, now)
        except Exception:
            logger.exception("threshold check failed for rule %s", rule.pk, extra=rule.log_fields)
            result.errors += 1
            continue
        if plan is not None:
            plans.append(plan)
    for start in range(0, len(plans), WRITE_BATCH):
        _write_batch(plans[start : start + WRITE_BATCH], result)
    return result


def _fields(plan: _Plan) -> dict[str, object]:
    state = asdict(plan.state)
    return {**state, "config_fingerprint": plan.fingerprint}


def _write_state(plan: _Plan) -> bool:
    """Compare-and-set the rule's state; False when another writer got there first.

    A first state is an insert: a concurrent first insert raises IntegrityError, which the caller's
    savepoint turns into "skipped".
    """
    if plan.row is None:
        ThresholdState.objects.create(rule=plan.rule, **_fields(plan))
        return True
    updated = ThresholdState.objects.filter(rule_id=plan.rule.pk, version=plan.row.version).update(
        **_fields(plan), version=F("version") + 1, updated_at=timezone.now()
    )
    return updated == 1


def _write_batch(plans: list[_Plan], result: ThresholdTickResult) -> None:
    """One transaction: new quiet states in bulk, the firings together, other states by compare-and-set.

    The firings' states and executions are written together in one savepoint (``_fire_together``); if
    that fails (a concurrent check wrote one of these states first, say), each firing is retried in a
    savepoint of its own. TRICKY: a firing's state write and its execution share a savepoint, so a
    failing pipeline call leaves the state as it was and the next check fires the crossing (same
    occurrence key).
    """
    with transaction.atomic():
        new = [plan for plan in plans if plan.row is None and not plan.fires]
        if new:
            ThresholdState.objects.bulk_create(
                [ThresholdState(rule=plan.rule, **_fields(plan)) for plan in new], ignore_conflicts=True
            )
            result.changed += len(new)
        firing = [plan for plan in plans if plan.fires]
        if firing and not _fire_together(firing, result):
            for plan in firing:
                try:
                    with transaction.atomic():
                        _fire(plan, result)
                except IntegrityError:
                    result.skipped += 1  # another check wrote this rule's first state or crossing first
                except Exception:
                    logger.exception("threshold firing failed for rule %s", plan.rule.pk, extra=plan.rule.log_fields)
                    result.errors += 1
        for plan in plans:
            if not plan.fires and plan.row is not None:
                if _write_state(plan):
                    result.changed += 1
                else:
                    result.skipped += 1


def crossing_trigger_data(
    config: dict[str, Any], state: CrossingState, value: object, observed_at: dt.datetime
) -> dict[str, Any]:
    """What a crossing adds to the context: the metric, previous and current value and the threshold
    (the live listener's trigger, and a backtest's)."""
    assert state.met_since is not None
    trigger_data = {
        "metric": config.get("metric"),
        "operator": config.get("operator"),
        "threshold": config.get("value"),
        "for_minutes": config.get("for_minutes") or 0,
        "previous_value": state.value_before_crossing,
        "current_value": value,
        "met_since": format_utc(state.met_since),
        "crossing": state.crossings,
        "observed_at": format_utc(observed_at),
    }
    # The crossing's value under the metric's own name: the run checks the threshold comparison against
    # it (automations.conditions.run_checks), as Test Conditions does with a context naming the metric.
    trigger_data[str(config.get("metric"))] = value
    return trigger_data


def _firing_request(plan: _Plan, state: CrossingState, observation: Observation) -> TriggerRequest:
    """The pipeline's trigger for one crossing."""
    from executions.pipeline import TriggerRequest

    assert state.met_since is not None
    trigger_data = crossing_trigger_data(plan.rule.trigger_config, state, observation.value, observation.observed_at)
    return TriggerRequest(
        plan.rule,
        TriggerSource.THRESHOLD,
        trigger_data,
        occurrence_key=f"threshold:{state.crossings}:{format_utc(state.met_since)}",
    )


def _fire_together(plans: list[_Plan], result: ThresholdTickResult) -> bool:
    """Write the firing rules' states and log all their crossings' executions in one savepoint.

    First states go in with one insert and the executions with one more (``trigger_rules``, which
    queues them in batches after commit). False, with nothing written, when any of it failed: the
    caller then fires each rule on its own.
    """
    from executions.pipeline import trigger_rules

    written: list[_Plan] = []
    skipped = 0
    try:
        with transaction.atomic():
            first = [plan for plan in plans if plan.row is None]
            ThresholdState.objects.bulk_create([ThresholdState(rule=plan.rule, **_fields(plan)) for plan in first])
            written.extend(first)
            for plan in plans:
                if plan.row is None:
                    continue
                if _write_state(plan):
                    written.append(plan)
                else:
                    skipped += 1
            trigger_rules([_firing_request(plan, state, seen) for plan in written for state, seen in plan.fires])
    except Exception:  # IntegrityError from a concurrent check, or one bad firing: retried one by one
        logger.info("threshold firings of %s rules retried one by one", len(plans), exc_info=True)
        return False
    result.fired += sum(len(plan.fires) for plan in written)
    result.skipped += skipped
    return True


def _fire(plan: _Plan, result: ThresholdTickResult) -> None:
    """Write the state and hand each crossing to the pipeline (the caller holds a savepoint)."""
    from executions.pipeline import trigger_rule

    if not _write_state(plan):
        result.skipped += 1
        return
    for state, observation in plan.fires:
        request = _firing_request(plan, state, observation)
        trigger_rule(request.rule, request.trigger_source, request.trigger_data, occurrence_key=request.occurrence_key)
        result.fired += 1
