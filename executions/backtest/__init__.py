"""Backtest: what a rule would have done over the tenant's stored history (docs/backtest.md).

It replays the history through the live logic and writes nothing (no execution, no delivery, no approval):

- event rules: the tenant's stored events of the rule's type (and source) in the window, oldest first,
  each as the matcher would have seen it (``match.trigger_data_of_event_row``), read as plain rows;
- threshold rules: the metric's stored samples, stepped through the live crossing logic
  (``listeners.crossing.step_crossing``) from its first stored sample (crossings before the window are
  not reported), with the five-minute tick promoting a pending ``for_minutes`` crossing as the live tick does;
- schedule rules: the schedule's slots in the window (``schedule_times.slots_between``);
- behaviour rules: the live detectors (``listeners.behavior``) run at every hour of the window, each
  occurrence once, as the live tick fires it (``_behavior_triggers``).

Each trigger's context is the one the run would have had where it can be known: the built-ins at the
trigger's moment, each stored metric's value as of that moment, then the trigger's data. Values from a
metric provider are today's (a warning says so). Conditions are the rule's compiled conditions; each
would-fire run goes through the governance decision table with trusted facts of its moment: its actor
(the event's authenticated poster), the rule's budget, the tenant's business hours, and the runs this
replay counted that local day (``max_frequency_per_day``).
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.utils import timezone

from automations.approval_facts import rule_budget
from automations.choices import BehaviorType, TriggerType
from automations.conditions import compile_conditions
from automations.conditions.context import make_getter
from automations.conditions.paths import condition_keys
from automations.conditions.threshold import compare
from automations.conditions.values import MISSING
from automations.models import AutomationRule, new_rule_id
from automations.schedule_times import ScheduleError, format_utc, slots_between
from automations.services import rule_draft
from config.words import plural
from executions.context import builtin_facts, json_safe, provider_facts
from executions.listeners.behavior import BehaviorWindow, behavior_trigger_data, get_behavior_detector
from executions.listeners.crossing import CrossingState, step_crossing
from executions.listeners.threshold import crossing_trigger_data
from executions.models import Event, MetricSample
from executions.pipeline.match import EVENT_ROW_FIELDS, trigger_data_of_event_row
from executions.providers import metric_providers
from executions.services.history import history_kept_since
from governance import policy
from governance.decisions import ApprovalDecision, decide_auto_approval
from governance.roles import Capability
from governance.selectors import is_trusted_user, is_within_business_hours

DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 90
MAX_SAMPLES: Final = 10
TICK: Final = dt.timedelta(minutes=5)  # the live threshold tick
BEHAVIOR_TICK: Final = dt.timedelta(hours=1)  # a replayed behaviour tick (the live one runs every ten minutes)
BEHAVIOR_REPLAY_SECONDS: Final = 10
READ_CHUNK: Final = 2000
CAP_RULE: Final = "max_frequency_per_day"


class BacktestUnavailable(ValueError):
    """This rule's trigger cannot be backtested (yet); the message says why."""


@dataclass(frozen=True)
class Trigger:
    at: dt.datetime
    data: dict[str, Any]
    actor_id: int | None = None
    label: str = ""
    trusted_json: bool = False  # data read from JSON columns: already plain JSON types


@dataclass
class ConditionTally:
    condition: Any
    passed: int = 0
    failed: int = 0
    missing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "passed": self.passed, "failed": self.failed, "missing": self.missing}


@dataclass
class BacktestResult:
    days: int
    window_from: dt.datetime
    window_to: dt.datetime
    triggers_seen: int = 0
    would_fire: int = 0
    by_day: dict[dt.date, int] = field(default_factory=dict)
    conditions: list[ConditionTally] = field(default_factory=list)
    governance: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fired_at: list[dt.datetime] = field(default_factory=list)  # every would-fire moment (tests compare with live)

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "window": {"from": self.window_from.isoformat(), "to": self.window_to.isoformat()},
            "triggers_seen": self.triggers_seen,
            "would_fire": self.would_fire,
            "by_day": [{"date": day.isoformat(), "would_fire": count} for day, count in sorted(self.by_day.items())],
            "conditions": [tally.as_dict() for tally in self.conditions],
            "governance": {key: self.governance[key] for key in ("auto_approved", "needs_approval", "held_by_cap")},
            "per_day_estimate": round(self.would_fire / self.days, 2),
            "samples": self.samples,
            "warnings": self.warnings,
        }


@dataclass
class ReplayFacts:
    """``GovernanceFacts`` for one replayed run: trusted sources as of the trigger's moment."""

    rule: AutomationRule
    actor_id: int | None
    moment: dt.datetime
    runs_that_day: int
    trusted: dict[int, bool]

    def budget(self) -> float | None:
        return rule_budget(self.rule)

    def user_is_trusted(self) -> bool:
        if self.actor_id is None:
            return False
        if self.actor_id not in self.trusted:
            self.trusted[self.actor_id] = is_trusted_user(self.rule.tenant_id, self.actor_id)
        return self.trusted[self.actor_id]

    def within_business_hours(self) -> bool:
        return is_within_business_hours(self.rule.tenant, self.moment)

    def executions_today(self) -> int:
        return self.runs_that_day


class MetricTimeline:
    """Each stored metric's samples of the tenant in time order, read as of a moment."""

    def __init__(self, tenant_id: str, metrics: set[str], until: dt.datetime) -> None:
        self.times: dict[str, list[dt.datetime]] = {}
        self.values: dict[str, list[Any]] = {}
        if not metrics:
            return
        rows = (
            MetricSample.objects.filter(tenant_id=tenant_id, metric__in=sorted(metrics), recorded_at__lte=until)
            .order_by("recorded_at", "id")
            .values_list("metric", "recorded_at", "value_number", "value_text")
        )
        for metric, recorded_at, number, text in rows.iterator(chunk_size=READ_CHUNK):
            value = MetricSample.value_of(number, text)
            self.times.setdefault(metric, []).append(recorded_at)
            self.values.setdefault(metric, []).append(value)

    def as_of(self, moment: dt.datetime) -> dict[str, Any]:
        facts = {}
        for metric, times in self.times.items():
            index = bisect.bisect_right(times, moment)
            if index:
                facts[metric] = self.values[metric][index - 1]
        return facts


def _stored_metrics(tenant_id: str) -> set[str]:
    return set(MetricSample.objects.filter(tenant_id=tenant_id).values_list("metric", flat=True).distinct())


# --- triggers ------------------------------------------------------------------------------------


def _event_triggers(rule: AutomationRule, start: dt.datetime, end: dt.datetime) -> Iterator[Trigger]:
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    events = Event.objects.filter(
        tenant_id=rule.tenant_id, event_type=config.get("event_type"), occurred_at__gte=start, occurred_at__lte=end
    )
    if config.get("source"):
        events = events.filter(source=config["source"])  # rule_accepts_event_source, in SQL
    # Plain rows, streamed (no model instance per event): a backtest may read millions.
    rows = events.order_by("occurred_at", "id").values_list(*EVENT_ROW_FIELDS, "actor_id")
    for *columns, actor_id in rows.iterator(chunk_size=READ_CHUNK):
        yield Trigger(
            columns[4], trigger_data_of_event_row(*columns), actor_id, f"event #{columns[0]}", trusted_json=True
        )


def _schedule_triggers(rule: AutomationRule, start: dt.datetime, end: dt.datetime) -> Iterator[Trigger]:
    try:
        slots = slots_between(rule.trigger_config, rule.tenant.timezone, start, end, limit=MAX_DAYS * 24 * 60)
    except ScheduleError as error:
        raise BacktestUnavailable(f"the schedule cannot be read: {error}") from None
    for slot in slots:
        yield Trigger(slot.utc, slot.as_trigger_data(), None, f"slot {slot.local:%a %d %b %H:%M}")


def _threshold_triggers(rule: AutomationRule, start: dt.datetime, end: dt.datetime) -> Iterator[Trigger]:
    """Each crossing the live listener would have fired, from the stored samples (``step_crossing``)."""
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    metric, operator, threshold = config.get("metric"), str(config.get("operator")), config.get("value")
    for_minutes = float(config.get("for_minutes") or 0)
    samples = MetricSample.objects.filter(tenant_id=rule.tenant_id, metric=metric)
    # The whole stored history is stepped (it is bounded by the retention), so the window starts from
    # the state a live rule would be in; crossings before the window are not reported.
    state = CrossingState()

    def fired(step_state: CrossingState, at: dt.datetime) -> Trigger:
        data = crossing_trigger_data(config, step_state, step_state.last_value, step_state.last_observed_at or at)
        return Trigger(at, data, None, f"{metric} crossing at {at:%d %b %H:%M}")

    def promote_until(limit: dt.datetime) -> Iterator[Trigger]:
        """The tick that promotes a pending crossing before ``limit`` (a later sample or the window's end)."""
        nonlocal state
        if not state.condition_met or state.fired_at is not None or state.met_since is None:
            return
        due = state.met_since + dt.timedelta(minutes=for_minutes)
        tick = _next_tick(due)
        if tick < limit and tick <= end:
            step = step_crossing(state, True, state.last_value, state.last_observed_at or tick, tick, for_minutes)
            state = step.state
            if step.fire and tick >= start:
                yield fired(state, tick)

    history = (
        samples.filter(recorded_at__lte=end)
        .order_by("recorded_at", "id")
        .values_list("recorded_at", "value_number", "value_text")
    )
    for recorded_at, number, text in history.iterator(chunk_size=READ_CHUNK):
        yield from promote_until(recorded_at)
        value = MetricSample.value_of(number, text)
        step = step_crossing(state, compare(operator, value, threshold), value, recorded_at, recorded_at, for_minutes)
        state = step.state
        if step.fire and recorded_at >= start:
            yield fired(state, recorded_at)
    yield from promote_until(end + TICK)


def _behavior_triggers(
    rule: AutomationRule, start: dt.datetime, end: dt.datetime, warnings: list[str]
) -> Iterator[Trigger]:
    """Each match the live behaviour tick would have fired, once per occurrence, from the stored activity.

    The detectors run as the live tick runs them, at every hour of the window with a one-hour catch-up,
    so each tick finds what became true in the hour before it. They run on a copy of the rule with an
    id of its own: a saved rule's live matches must not hide its occurrences from the replay.
    """
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    behavior_type = str(config.get("behavior_type"))
    try:
        detector = get_behavior_detector(behavior_type)
        timeframe = dt.timedelta(hours=float(config["timeframe_hours"]))
    except (KeyError, TypeError, ValueError) as error:
        raise BacktestUnavailable(f"the behaviour cannot be read: {error}") from None
    replay = copy.copy(rule)
    replay.pk = new_rule_id()
    seen: set[str] = set()
    fired_for: dict[str, dt.datetime] = {}  # high_value_customer fires at most once per customer per T
    tick = start.replace(minute=0, second=0, microsecond=0) + BEHAVIOR_TICK
    deadline = time.monotonic() + BEHAVIOR_REPLAY_SECONDS
    while tick <= end:
        if time.monotonic() > deadline:  # a busy tenant's detectors: keep the answer inside a request
            warnings.append(
                f"Replayed up to {format_utc(tick)} only: the behaviour's hourly detector runs took longer than "
                f"{BEHAVIOR_REPLAY_SECONDS} s; later days count as quiet."
            )
            return
        for candidate in detector(replay, BehaviorWindow(now=tick, timeframe=timeframe, catchup=BEHAVIOR_TICK)):
            if candidate.occurrence in seen:
                continue
            last = fired_for.get(candidate.customer_id)
            if behavior_type == BehaviorType.HIGH_VALUE_CUSTOMER and last is not None and tick - last < timeframe:
                continue
            seen.add(candidate.occurrence)
            fired_for[candidate.customer_id] = tick
            label = f"{candidate.occurrence} of customer {candidate.customer_id}"
            yield Trigger(tick, behavior_trigger_data(rule, candidate), None, label)
        tick += BEHAVIOR_TICK


def _next_tick(moment: dt.datetime) -> dt.datetime:
    """The first five-minute tick (UTC, on the minute) at or after ``moment``."""
    floor = moment.replace(second=0, microsecond=0, minute=moment.minute - moment.minute % 5)
    return floor if floor >= moment else floor + TICK


def _triggers(rule: AutomationRule, start: dt.datetime, end: dt.datetime, warnings: list[str]) -> Iterator[Trigger]:
    if rule.trigger_type == TriggerType.EVENT:
        return _event_triggers(rule, start, end)
    if rule.trigger_type == TriggerType.SCHEDULE:
        return _schedule_triggers(rule, start, end)
    if rule.trigger_type == TriggerType.THRESHOLD:
        return _threshold_triggers(rule, start, end)
    if rule.trigger_type == TriggerType.BEHAVIOR:
        return _behavior_triggers(rule, start, end, warnings)
    raise BacktestUnavailable(f"backtests of {rule.trigger_type} rules are not available yet")


# --- the replay ----------------------------------------------------------------------------------


def _why(trigger: Trigger, moment_local: dt.datetime, passed: int, decision: ApprovalDecision) -> str:
    conditions = "no conditions" if not passed else f"{plural(passed, 'condition')} passed"
    governance = "would run at once" if decision.auto_approved else f"would wait for approval ({decision.reason})"
    return f"{trigger.label} on {moment_local:%a %d %b %H:%M}: {conditions}; {governance}"


def backtest_rule(
    rule: AutomationRule, days: int = DEFAULT_DAYS, now: dt.datetime | None = None, max_triggers: int | None = None
) -> BacktestResult:
    """Replay ``rule`` (saved or not) over the last ``days`` of its tenant's history; writes nothing.

    ``max_triggers``: stop after that many triggers, oldest first (the answer says so in ``warnings``).
    Raises BacktestUnavailable for a trigger that cannot be replayed yet.
    """
    if rule.trigger_type not in (TriggerType.EVENT, TriggerType.SCHEDULE, TriggerType.THRESHOLD, TriggerType.BEHAVIOR):
        raise BacktestUnavailable(f"backtests of {rule.trigger_type} rules are not available yet")
    now = now or timezone.now()
    tenant = rule.tenant
    zone = tenant.zone
    start, end = now - dt.timedelta(days=days), now
    result = BacktestResult(days, start, end)
    kept_since = history_kept_since(tenant.pk, now)
    if start < kept_since and rule.trigger_type != TriggerType.SCHEDULE:
        result.warnings.append(
            f"History is kept {(now - kept_since).days} days: the first {(kept_since - start).days} days of "
            "this window have no events or samples left, so they count as quiet."
        )
    first_day = start.astimezone(zone).date()
    for offset in range((end.astimezone(zone).date() - first_day).days + 1):
        result.by_day[first_day + dt.timedelta(days=offset)] = 0

    conditions = rule.conditions if isinstance(rule.conditions, list) else []
    singles = [compile_conditions([condition], tenant.timezone) for condition in conditions]
    getters = [
        make_getter(condition["type"])
        if isinstance(condition, dict) and isinstance(condition.get("type"), str)
        else None
        for condition in conditions
    ]
    result.conditions = [ConditionTally(condition) for condition in conditions]
    keys = condition_keys(conditions)
    builtin_keys = set(builtin_facts(tenant, now))
    builtins_needed = bool(keys & builtin_keys)
    providers = set(metric_providers())
    stored = _stored_metrics(tenant.pk)
    timeline = MetricTimeline(
        tenant.pk,
        (keys & stored)
        | ({rule.trigger_config.get("metric")} & stored if rule.trigger_type == TriggerType.THRESHOLD else set()),
        end,
    )
    provider_keys = sorted(keys & providers)
    provider_values: dict[str, Any] = {}
    if provider_keys:
        provider_values = {key: value for key, value in provider_facts(tenant).items() if key in provider_keys}
        result.warnings.append(
            f"{', '.join(provider_keys)} come from a live provider with no history: today's values are used."
        )
    if rule.trigger_type == TriggerType.SCHEDULE:
        unknowable = sorted(keys - stored - providers - builtin_keys)
        if unknowable:
            result.warnings.append(
                f"{', '.join(unknowable)} cannot be known for past schedule slots (not a stored metric or "
                "built-in): conditions on them count as missing."
            )

    layered = builtins_needed or bool(timeline.times) or bool(provider_values)
    runs_per_day: Counter[dt.date] = Counter()
    trusted: dict[int, bool] = {}
    for trigger in _triggers(rule, start, end, result.warnings):
        if max_triggers is not None and result.triggers_seen >= max_triggers:
            result.warnings.append(f"Stopped after the first {max_triggers} triggers of the window.")
            break
        result.triggers_seen += 1
        data = trigger.data if trigger.trusted_json else json_safe(trigger.data)
        if layered:
            context: dict[str, Any] = builtin_facts(tenant, trigger.at) if builtins_needed else {}
            context.update(timeline.as_of(trigger.at))
            context.update(provider_values)
            context.update(data)
        else:
            context = data  # only the trigger's data is read: no copy
        # The top-level conditions must all pass (what the compiled list checks): each is tallied on its
        # own, so the rule's answer is theirs, without evaluating the list a second time.
        passed_all = True
        for tally, single, get in zip(result.conditions, singles, getters, strict=True):
            if single.matches(context):
                tally.passed += 1
                continue
            passed_all = False
            if get is not None and get(context) is MISSING:
                tally.missing += 1
            else:
                tally.failed += 1
        if not passed_all:
            continue
        local_day = trigger.at.astimezone(zone).date()
        facts = ReplayFacts(rule, trigger.actor_id, trigger.at, runs_per_day[local_day], trusted)
        decision = decide_auto_approval(rule.risk_level, rule.requires_approval, rule.auto_approval_rules, facts)
        runs_per_day[local_day] += 1
        result.would_fire += 1
        result.fired_at.append(trigger.at)
        result.by_day[local_day] = result.by_day.get(local_day, 0) + 1
        if decision.auto_approved:
            result.governance["auto_approved"] += 1
        elif any(check.rule == CAP_RULE and not check.passed for check in decision.checks):
            result.governance["held_by_cap"] += 1
        else:
            result.governance["needs_approval"] += 1
        if len(result.samples) < MAX_SAMPLES:
            result.samples.append(
                {
                    "at": trigger.at.isoformat(),
                    "trigger_data": trigger.data if trigger.trusted_json else json_safe(trigger.data),
                    "why": _why(trigger, trigger.at.astimezone(zone), len(conditions), decision),
                }
            )
    return result


# A request's backtest stops after this many triggers (about 3 s here), well inside the web server's timeout;
# the answer says so in ``warnings``.
REQUEST_MAX_TRIGGERS: Final = 200_000
ESTIMATE_DAYS: Final = 30
ESTIMATE_TRIGGERS: Final = 5_000  # recommendations replay many templates per call: the oldest 5,000 triggers


def backtest_estimate(tenant: Any, definition: dict[str, Any]) -> dict[str, int] | None:
    """A rule body's 30-day backtest on ``tenant``'s history, for recommendations (``page_facts``): its
    counts, or None when it cannot be replayed (a definition that does not validate) or would cost too much
    for a list of estimates (a behaviour rule replays 720 detector ticks)."""
    if definition.get("trigger_type") == TriggerType.BEHAVIOR:
        return None
    try:
        rule = rule_draft(tenant, definition)
        result = backtest_rule(rule, ESTIMATE_DAYS, max_triggers=ESTIMATE_TRIGGERS)
    except (BacktestUnavailable, ValueError):
        return None
    return {"days": ESTIMATE_DAYS, "would_fire": result.would_fire, "triggers_seen": result.triggers_seen}


def rule_backtest(
    rule: AutomationRule, user: Any, days: object = DEFAULT_DAYS, max_triggers: int = REQUEST_MAX_TRIGGERS
) -> BacktestResult:
    """A backtest a person asks for (the API, the builder's preview): the one place that checks it.

    ValidationError naming ``days`` unless it is a whole number from 1 to MAX_DAYS; PermissionDenied unless
    ``user`` may test rules of the rule's risk level in its tenant (as for Test Conditions); then
    ``backtest_rule`` with at most ``max_triggers`` triggers. Raises BacktestUnavailable as it does.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError({"days": [f"A whole number of days from 1 to {MAX_DAYS}."]})
    policy.check(user, rule.tenant_id, Capability.TEST, rule.risk_level)
    return backtest_rule(rule, days, max_triggers=max_triggers)
