"""The triggers a backtest replays one by one, oldest first, each as the live listener would have seen it.

- event rules: the tenant's stored events of the rule's type (and source) in the window, each with the
  trigger data the matcher gives it (``match.trigger_data_of_event_row``), read as plain rows (used when
  the replay cannot go in groups: ``executions.backtest.event_groups``);
- threshold rules: the metric's stored samples, stepped through the live crossing logic
  (``listeners.crossing.step_crossing``) from its first stored sample (crossings before the window are
  not reported), with the five-minute tick promoting a pending ``for_minutes`` crossing as the live tick does;
- schedule rules: the schedule's slots in the window (``schedule_times.slots_between``);
- behaviour rules: the live detectors (``listeners.behavior``) run at every hour of the window, each
  occurrence once, as the live tick fires it.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from automations.choices import BehaviorType, TriggerType
from automations.conditions.threshold import compare
from automations.models import AutomationRule, new_rule_id
from automations.schedule_times import ScheduleError, format_utc, slots_between
from executions.listeners.behavior import (
    CANDIDATE_EVENTS,
    BehaviorWindow,
    CandidateEvents,
    behavior_trigger_data,
    get_behavior_detector,
)
from executions.listeners.crossing import CrossingState, step_crossing
from executions.listeners.threshold import crossing_trigger_data
from executions.models import Event, MetricSample
from executions.pipeline.match import EVENT_ROW_FIELDS, trigger_data_of_event_row

MAX_DAYS: Final = 90
TICK: Final = dt.timedelta(minutes=5)  # the live threshold tick
BEHAVIOR_TICK: Final = dt.timedelta(hours=1)  # a replayed behaviour tick (the live one runs every ten minutes)
READ_CHUNK: Final = 2000
SKIP_READ_LIMIT: Final = 20_000  # a behaviour replay reads when this many candidate events occurred, at most


class BacktestUnavailable(ValueError):
    """This rule's trigger cannot be backtested (yet); the message says why."""


@dataclass(frozen=True)
class Trigger:
    at: dt.datetime
    data: dict[str, Any]
    actor_id: int | None = None
    label: str = ""
    trusted_json: bool = False  # data read from JSON columns: already plain JSON types


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


def stored_metrics(tenant_id: str) -> set[str]:
    # order_by(): the model's ordering would make DISTINCT run over every sample's (metric, recorded_at, id)
    samples = MetricSample.objects.filter(tenant_id=tenant_id).order_by()
    return set(samples.values_list("metric", flat=True).distinct())


def window_events(rule: AutomationRule, start: dt.datetime, end: dt.datetime) -> Any:
    """The stored events an event rule's backtest replays: its tenant's, of its type (and source), in the window."""
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    events = Event.objects.filter(
        tenant_id=rule.tenant_id, event_type=config.get("event_type"), occurred_at__gte=start, occurred_at__lte=end
    )
    if config.get("source"):
        events = events.filter(source=config["source"])  # rule_accepts_event_source, in SQL
    return events


def event_trigger(columns: tuple[Any, ...], actor_id: int | None) -> Trigger:
    """The trigger of one event read as ``(*EVENT_ROW_FIELDS)`` columns."""
    return Trigger(columns[4], trigger_data_of_event_row(*columns), actor_id, f"event #{columns[0]}", trusted_json=True)


def event_triggers(rule: AutomationRule, start: dt.datetime, end: dt.datetime) -> Iterator[Trigger]:
    # Plain rows, streamed (no model instance per event): a backtest may read millions.
    rows = window_events(rule, start, end).order_by("occurred_at", "id").values_list(*EVENT_ROW_FIELDS, "actor_id")
    for *columns, actor_id in rows.iterator(chunk_size=READ_CHUNK):
        yield event_trigger(tuple(columns), actor_id)


def schedule_triggers(rule: AutomationRule, start: dt.datetime, end: dt.datetime) -> Iterator[Trigger]:
    try:
        slots = slots_between(rule.trigger_config, rule.tenant.timezone, start, end, limit=MAX_DAYS * 24 * 60)
    except ScheduleError as error:
        raise BacktestUnavailable(f"the schedule cannot be read: {error}") from None
    for slot in slots:
        yield Trigger(slot.utc, slot.as_trigger_data(), None, f"slot {slot.local:%a %d %b %H:%M}")


def threshold_triggers(rule: AutomationRule, start: dt.datetime, end: dt.datetime) -> Iterator[Trigger]:
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
        tick = next_tick(due)
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


def behavior_triggers(
    rule: AutomationRule, start: dt.datetime, end: dt.datetime, stop: Callable[[str], None], seconds: float
) -> Iterator[Trigger]:
    """Each match the live behaviour tick would have fired, once per occurrence, from the stored activity.

    The detectors run as the live tick runs them, at every hour of the window with a one-hour catch-up,
    so each tick finds what became true in the hour before it; a tick is skipped when no event it could
    match occurred in its span (``CANDIDATE_EVENTS``), as its detector would find nothing. They run on a
    copy of the rule with an
    id of its own: a saved rule's live matches must not hide its occurrences from the replay. After
    ``seconds`` the replay stops and tells ``stop`` up to when it got.
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
    deadline = time.monotonic() + seconds
    candidates = CANDIDATE_EVENTS.get(behavior_type)
    moments = _candidate_moments(rule, candidates, tick - timeframe - BEHAVIOR_TICK, end) if candidates else None
    first = tick
    held_until: list[dt.datetime] = []  # when customers held back by high_value_customer's once-per-T may fire
    while tick <= end:
        if time.monotonic() > deadline:  # a busy tenant's detectors: keep the answer inside a request
            stop(
                f"Replayed up to {format_utc(tick)} only: the behaviour's hourly detector runs took longer than "
                f"{seconds:g} s; later days count as quiet."
            )
            return
        window = BehaviorWindow(now=tick, timeframe=timeframe, catchup=BEHAVIOR_TICK)
        due = tick == first or any(moment <= tick for moment in held_until)
        spans = candidates.spans(window) if candidates is not None and moments is not None and not due else []
        if spans and not any(_any_within(moments or [], after, until) for after, until in spans):
            tick += BEHAVIOR_TICK  # no event that lets the detector find anything new
            continue
        held_until = [t for t in held_until if t > tick]
        for candidate in detector(replay, window):
            if candidate.occurrence in seen:
                continue
            last = fired_for.get(candidate.customer_id)
            if behavior_type == BehaviorType.HIGH_VALUE_CUSTOMER and last is not None and tick - last < timeframe:
                held_until.append(last + timeframe)
                continue
            seen.add(candidate.occurrence)
            fired_for[candidate.customer_id] = tick
            label = f"{candidate.occurrence} of customer {candidate.customer_id}"
            yield Trigger(tick, behavior_trigger_data(rule, candidate), None, label)
        tick += BEHAVIOR_TICK


def _candidate_moments(
    rule: AutomationRule, candidates: CandidateEvents, since: dt.datetime, until: dt.datetime
) -> list[dt.datetime] | None:
    """When the tenant's customer events a detector could match occurred (``CANDIDATE_EVENTS``), in order;
    None for a busy tenant (more than SKIP_READ_LIMIT), whose every tick has some anyway."""
    events = Event.objects.filter(tenant_id=rule.tenant_id, occurred_at__gt=since, occurred_at__lte=until).exclude(
        customer_id=""
    )
    if candidates.types is not None:
        events = events.filter(event_type__in=candidates.types)
    moments = list(events.order_by("occurred_at").values_list("occurred_at", flat=True)[: SKIP_READ_LIMIT + 1])
    return moments if len(moments) <= SKIP_READ_LIMIT else None


def _any_within(moments: list[dt.datetime], after: dt.datetime, until: dt.datetime) -> bool:
    return bisect.bisect_right(moments, until) > bisect.bisect_right(moments, after)


def next_tick(moment: dt.datetime) -> dt.datetime:
    """The first five-minute tick (UTC, on the minute) at or after ``moment``."""
    floor = moment.replace(second=0, microsecond=0, minute=moment.minute - moment.minute % 5)
    return floor if floor >= moment else floor + TICK


def one_by_one(
    rule: AutomationRule, start: dt.datetime, end: dt.datetime, stop: Callable[[str], None], behavior_seconds: float
) -> Iterator[Trigger]:
    """The rule's triggers in the window, oldest first (BacktestUnavailable for a trigger type with none)."""
    if rule.trigger_type == TriggerType.EVENT:
        return event_triggers(rule, start, end)
    if rule.trigger_type == TriggerType.SCHEDULE:
        return schedule_triggers(rule, start, end)
    if rule.trigger_type == TriggerType.THRESHOLD:
        return threshold_triggers(rule, start, end)
    if rule.trigger_type == TriggerType.BEHAVIOR:
        return behavior_triggers(rule, start, end, stop, behavior_seconds)
    raise BacktestUnavailable(f"backtests of {rule.trigger_type} rules are not available yet")
