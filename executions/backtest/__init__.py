"""Backtest: what a rule would have done over the tenant's stored history (docs/backtest.md).

It replays the history through the live logic and writes nothing (no execution, no delivery, no approval).
Its triggers (``triggers``) are replayed one by one, oldest first, except an event rule's events where
nothing the replay reads differs by event but what can be grouped (``event_groups``): those are read as
groups of events that agree on every value the conditions and governance read, each group evaluated once
and weighted by its count, which answers exactly what replaying each event would.

Each trigger's context is the one the run would have had where it can be known: the built-ins at the
trigger's moment, each stored metric's value as of that moment, then the trigger's data. Values from a
metric provider are today's (a warning says so). Conditions are the rule's compiled conditions; each
would-fire run goes through the governance decision table with trusted facts of its moment: its actor
(the event's authenticated poster), the rule's budget, the tenant's business hours, and, for
``max_frequency_per_day``, the runs of that local day this replay let run their action (auto-approved),
as the live count reads executions allowed to run (``selectors.rule_executions_run_today_count``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from automations.approval_facts import rule_budget
from automations.choices import TriggerType
from automations.conditions import compile_conditions
from automations.conditions.context import Getter, make_getter
from automations.conditions.paths import context_keys_read
from automations.conditions.values import MISSING
from automations.models import AutomationRule
from automations.services import rule_draft
from executions.backtest.event_groups import (
    CLOCK_DATE,
    CLOCK_MINUTE,
    CLOCK_NONE,
    EventGroup,
    GroupShape,
    has_more_than,
    read_event_groups,
    read_event_samples,
)
from executions.backtest.triggers import (
    MAX_DAYS,
    BacktestUnavailable,
    MetricTimeline,
    Trigger,
    event_trigger,
    one_by_one,
    stored_metrics,
    window_events,
)
from executions.context import builtin_facts, json_safe, provider_facts
from executions.providers import metric_providers
from executions.services.history import history_kept_since
from governance import policy
from governance.common.words import plural
from governance.decisions import ApprovalDecision, decide_auto_approval
from governance.roles import Capability
from governance.selectors import is_trusted_user, is_within_business_hours

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "BacktestResult",
    "BacktestUnavailable",
    "backtest_estimates",
    "backtest_rule",
    "rule_backtest",
]

DEFAULT_DAYS: Final = 30
MAX_SAMPLES: Final = 10
BEHAVIOR_REPLAY_SECONDS: Final = 10
CAP_RULE: Final = "max_frequency_per_day"
# The built-ins a group of events can share: constant ones, and those of its local date or minute.
CONSTANT_BUILTINS: Final = frozenset({"timezone", "tenant_id"})
DATE_BUILTINS: Final = frozenset({"date", "weekday", "day", "month", "year"})
MINUTE_BUILTINS: Final = frozenset({"time", "hour"})


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
    # Every would-fire moment of a replay one by one (tests compare it with live); a replay in groups
    # knows its runs by day only and leaves it empty (``grouped``).
    fired_at: list[dt.datetime] = field(default_factory=list)
    grouped: bool = False
    stopped_early: bool = False  # at a trigger cap or the behaviour detectors' time budget (``warnings`` says)

    def stop(self, warning: str) -> None:
        """The replay stopped before the window's end: say so."""
        self.stopped_early = True
        self.warnings.append(warning)

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


@dataclass(frozen=True)
class TenantHistory:
    """What a backtest reads of its tenant's history besides its triggers: since when it is kept and which
    metrics have samples (read once for many backtests of one tenant, ``backtest_estimates``)."""

    kept_since: dt.datetime
    stored_metrics: frozenset[str]

    @classmethod
    def read(cls, tenant_id: str, now: dt.datetime) -> TenantHistory:
        return cls(history_kept_since(tenant_id, now), frozenset(stored_metrics(tenant_id)))


class Replay:
    """One backtest's compiled conditions, context layers and tallies, shared by both ways of replaying."""

    def __init__(self, rule: AutomationRule, result: BacktestResult, now: dt.datetime, history: TenantHistory) -> None:
        self.rule, self.result = rule, result
        tenant = rule.tenant
        self.zone: ZoneInfo = tenant.zone
        self.conditions = rule.conditions if isinstance(rule.conditions, list) else []
        self.singles = [compile_conditions([condition], tenant.timezone) for condition in self.conditions]
        self.getters: list[Getter | None] = [
            make_getter(condition["type"])
            if isinstance(condition, dict) and isinstance(condition.get("type"), str)
            else None
            for condition in self.conditions
        ]
        result.conditions = [ConditionTally(condition) for condition in self.conditions]
        self.keys = context_keys_read(self.conditions)
        self.builtin_keys = set(builtin_facts(tenant, now))
        self.builtins_needed = bool(self.keys & self.builtin_keys)
        providers = set(metric_providers())
        self.stored = set(history.stored_metrics)
        config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
        metric = config.get("metric")
        threshold_metric = {metric} if rule.trigger_type == TriggerType.THRESHOLD and isinstance(metric, str) else set()
        self.timeline = MetricTimeline(tenant.pk, (self.keys | threshold_metric) & self.stored, result.window_to)
        provider_keys = sorted(self.keys & providers)
        self.provider_values: dict[str, Any] = {}
        if provider_keys:
            self.provider_values = {key: value for key, value in provider_facts(tenant).items() if key in provider_keys}
            result.warnings.append(
                f"{', '.join(provider_keys)} come from a live provider with no history: today's values are used."
            )
        if rule.trigger_type == TriggerType.SCHEDULE:
            unknowable = sorted(self.keys - self.stored - providers - self.builtin_keys)
            if unknowable:
                result.warnings.append(
                    f"{', '.join(unknowable)} cannot be known for past schedule slots (not a stored metric or "
                    "built-in): conditions on them count as missing."
                )
        self.layered = self.builtins_needed or bool(self.timeline.times) or bool(self.provider_values)
        self.trusted: dict[int, bool] = {}
        rules = rule.auto_approval_rules
        self.approval_rules: dict[str, Any] = rules if isinstance(rules, dict) else {}

    def context(self, moment: dt.datetime, data: dict[str, Any]) -> dict[str, Any]:
        if not self.layered:
            return data  # only the trigger's data is read: no copy
        context: dict[str, Any] = builtin_facts(self.rule.tenant, moment) if self.builtins_needed else {}
        context.update(self.timeline.as_of(moment))
        context.update(self.provider_values)
        context.update(data)
        return context

    def passes(self, context: dict[str, Any], weight: int) -> bool:
        """Whether every top-level condition passes (what the compiled list checks); tallies each, ``weight`` times.

        Each is evaluated on its own, so the rule's answer is theirs without evaluating the list again.
        """
        passed_all = True
        for tally, single, get in zip(self.result.conditions, self.singles, self.getters, strict=True):
            if single.matches(context):
                tally.passed += weight
                continue
            passed_all = False
            if get is not None and get(context) is MISSING:
                tally.missing += weight
            else:
                tally.failed += weight
        return passed_all

    def decide(self, actor_id: int | None, moment: dt.datetime, approved_that_day: int) -> ApprovalDecision:
        facts = ReplayFacts(self.rule, actor_id, moment, approved_that_day, self.trusted)
        return decide_auto_approval(self.rule.risk_level, self.rule.requires_approval, self.approval_rules, facts)

    def count_runs(self, day: dt.date, decision: ApprovalDecision, runs: int) -> None:
        """Count ``runs`` would-fire runs of local ``day`` that governance decided as ``decision``."""
        result = self.result
        result.would_fire += runs
        result.by_day[day] = result.by_day.get(day, 0) + runs
        if decision.auto_approved:
            result.governance["auto_approved"] += runs
        elif any(check.rule == CAP_RULE and not check.passed for check in decision.checks):
            result.governance["held_by_cap"] += runs
        else:
            result.governance["needs_approval"] += runs

    def sample(self, trigger: Trigger, decision: ApprovalDecision) -> dict[str, Any]:
        local = trigger.at.astimezone(self.zone)
        count = len(self.conditions)
        conditions = "no conditions" if not count else f"{plural(count, 'condition')} passed"
        governance = "would run at once" if decision.auto_approved else f"would wait for approval ({decision.reason})"
        return {
            "at": trigger.at.isoformat(),
            "trigger_data": trigger.data if trigger.trusted_json else json_safe(trigger.data),
            "why": f"{trigger.label} on {local:%a %d %b %H:%M}: {conditions}; {governance}",
        }

    def group_shape(self) -> GroupShape | None:
        """What to read of each event for a replay in groups, or None when it must go event by event:
        the conditions read the event's metadata (``event``), a stored metric's value as of each moment
        or the exact moment (``now``); or the order of the day's runs decides (``max_frequency_per_day``
        with ``trusted_users_only`` or ``business_hours_only``); or business hours end off the minute."""
        rule, keys = self.rule, self.keys
        if rule.trigger_type != TriggerType.EVENT or "event" in keys or keys & self.stored:
            return None
        builtins_read = keys & self.builtin_keys
        if builtins_read - CONSTANT_BUILTINS - DATE_BUILTINS - MINUTE_BUILTINS:
            return None
        rules = self.approval_rules
        by_actor, hours = bool(rules.get("trusted_users_only")), bool(rules.get("business_hours_only"))
        if rules.get(CAP_RULE) is not None and (by_actor or hours):
            return None
        tenant = rule.tenant
        if hours and any(
            bound.second or bound.microsecond for bound in (tenant.business_hours_start, tenant.business_hours_end)
        ):
            return None
        if hours or builtins_read & MINUTE_BUILTINS:
            clock = CLOCK_MINUTE
        elif builtins_read & DATE_BUILTINS:
            clock = CLOCK_DATE
        else:
            clock = CLOCK_NONE
        return GroupShape(tuple(sorted(keys)), clock, by_actor)


def _replay_one_by_one(
    replay: Replay,
    start: dt.datetime,
    end: dt.datetime,
    max_triggers: int | None,
    behavior_seconds: float,
) -> None:
    result = replay.result
    approved_by_day: Counter[dt.date] = Counter()
    for trigger in one_by_one(replay.rule, start, end, result.stop, behavior_seconds):
        if max_triggers is not None and result.triggers_seen >= max_triggers:
            result.stop(f"Stopped after the first {max_triggers} triggers of the window.")
            break
        result.triggers_seen += 1
        data = trigger.data if trigger.trusted_json else json_safe(trigger.data)
        if not replay.passes(replay.context(trigger.at, data), 1):
            continue
        day = trigger.at.astimezone(replay.zone).date()
        decision = replay.decide(trigger.actor_id, trigger.at, approved_by_day[day])
        if decision.auto_approved:
            approved_by_day[day] += 1  # the live count: runs allowed to run their action that day
        replay.count_runs(day, decision, 1)
        result.fired_at.append(trigger.at)
        if len(result.samples) < MAX_SAMPLES:
            result.samples.append(replay.sample(trigger, decision))


def _replay_in_groups(
    replay: Replay, shape: GroupShape, start: dt.datetime, end: dt.datetime, limit: int | None
) -> None:
    """Evaluate each group once, weighted by its count; govern each day's runs by their count; then find
    the oldest would-fire events again for the samples."""
    result, zone = replay.result, replay.zone
    result.grouped = True
    events = window_events(replay.rule, start, end)
    groups = read_event_groups(events, zone, shape, limit)
    result.triggers_seen = sum(group.count for group in groups)
    if limit is not None and result.triggers_seen >= limit and has_more_than(events, limit):
        result.stop(f"Stopped after the first {limit} triggers of the window.")
    firing: list[EventGroup] = []
    for group in groups:
        moment = group.local.replace(tzinfo=zone) if group.local is not None else end
        if replay.passes(replay.context(moment, group.values), group.count):
            firing.append(group)

    # Governance reads the actor and the moment only when the shape keeps them, and the day's count of
    # auto-approved runs only when no per-run fact varies within the day (``group_shape``): so a day's
    # runs that share those facts are decided together, the count stepping up while they auto-approve.
    hours = bool(replay.approval_rules.get("business_hours_only"))
    capped = replay.approval_rules.get(CAP_RULE) is not None
    runs: Counter[tuple[dt.date, int | None, dt.datetime | None]] = Counter()
    for group in firing:
        for day, count in group.days:
            runs[(day, group.actor_id, group.local if hours else None)] += count
    approved_by_day: Counter[dt.date] = Counter()
    for (day, actor_id, local), count in sorted(runs.items(), key=lambda item: (item[0][0], str(item[0][1:]))):
        moment = local.replace(tzinfo=zone) if local is not None else dt.datetime.combine(day, dt.time(12), zone)
        decided = 0
        while decided < count:
            decision = replay.decide(actor_id, moment, approved_by_day[day])
            if decision.auto_approved and capped:
                approved_by_day[day] += 1
                replay.count_runs(day, decision, 1)
                decided += 1
                continue
            replay.count_runs(day, decision, count - decided)  # the count no longer moves: decided alike
            break

    # The samples are the oldest would-fire runs, so each one's earlier runs that day are samples too.
    rows = read_event_samples(events, zone, shape, {group.identity for group in firing}, MAX_SAMPLES, limit)
    sampled_by_day: Counter[dt.date] = Counter()
    for *columns, actor_id in rows:
        trigger = event_trigger(tuple(columns), actor_id)
        day = trigger.at.astimezone(zone).date()
        decision = replay.decide(trigger.actor_id, trigger.at, sampled_by_day[day])
        if decision.auto_approved:
            sampled_by_day[day] += 1
        result.samples.append(replay.sample(trigger, decision))


def backtest_rule(
    rule: AutomationRule,
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
    max_triggers: int | None = None,
    max_grouped_in_sql: int | None = None,
    behavior_seconds: float = BEHAVIOR_REPLAY_SECONDS,
    history: TenantHistory | None = None,
) -> BacktestResult:
    """Replay ``rule`` (saved or not) over the last ``days`` of its tenant's history; writes nothing.

    ``max_triggers``: stop after that many triggers, oldest first (the answer says so in ``warnings``);
    ``max_grouped_in_sql``: the same for an event replay grouped in SQL (PostgreSQL), where a trigger costs
    far less. ``behavior_seconds``: how long a behaviour's detectors may run. ``history``: the tenant's, as
    the caller already read it at ``now``. Raises BacktestUnavailable for a trigger that cannot be replayed yet.
    """
    if rule.trigger_type not in (TriggerType.EVENT, TriggerType.SCHEDULE, TriggerType.THRESHOLD, TriggerType.BEHAVIOR):
        raise BacktestUnavailable(f"backtests of {rule.trigger_type} rules are not available yet")
    now = now or timezone.now()
    zone = rule.tenant.zone
    start, end = now - dt.timedelta(days=days), now
    result = BacktestResult(days, start, end)
    history = history or TenantHistory.read(rule.tenant_id, now)
    kept_since = history.kept_since
    if start < kept_since and rule.trigger_type != TriggerType.SCHEDULE:
        result.warnings.append(
            f"History is kept {(now - kept_since).days} days: the first {(kept_since - start).days} days of "
            "this window have no events or samples left, so they count as quiet."
        )
    first_day = start.astimezone(zone).date()
    for offset in range((end.astimezone(zone).date() - first_day).days + 1):
        result.by_day[first_day + dt.timedelta(days=offset)] = 0

    replay = Replay(rule, result, now, history)
    shape = replay.group_shape()
    if shape is None:
        _replay_one_by_one(replay, start, end, max_triggers, behavior_seconds)
    else:
        limit = max_grouped_in_sql if connection.vendor == "postgresql" else max_triggers
        _replay_in_groups(replay, shape, start, end, limit)
    return result


# A request's backtest stops after this many triggers replayed one by one (about 3 s here), or this many
# events grouped in SQL, well inside the web server's timeout; the answer says so in ``warnings``.
REQUEST_MAX_TRIGGERS: Final = 200_000
REQUEST_MAX_GROUPED_IN_SQL: Final = 3_000_000
ESTIMATE_DAYS: Final = 30
# Recommendations replay many templates per call: the oldest 5,000 triggers (50,000 events grouped in SQL),
# and a behaviour's detectors for at most 2 s, so the five behaviour templates stay within one behaviour
# replay's budget (BEHAVIOR_REPLAY_SECONDS) together.
ESTIMATE_TRIGGERS: Final = 5_000
ESTIMATE_GROUPED_IN_SQL: Final = 50_000
ESTIMATE_BEHAVIOR_SECONDS: Final = 2


def backtest_estimates(tenant: Any, definitions: list[dict[str, Any]]) -> list[dict[str, int] | None]:
    """Each rule body's 30-day backtest on ``tenant``'s history, for recommendations (``page_facts``): its
    counts, or None when it cannot be replayed (a definition that does not validate) or a behaviour's
    detectors ran out of time (the hours not replayed would count as quiet). The tenant's history facts
    are read once for all."""
    now = timezone.now()
    history = TenantHistory.read(tenant.pk, now)
    estimates: list[dict[str, int] | None] = []
    for definition in definitions:
        try:
            rule = rule_draft(tenant, definition)
            result = backtest_rule(
                rule,
                ESTIMATE_DAYS,
                now,
                max_triggers=ESTIMATE_TRIGGERS,
                max_grouped_in_sql=ESTIMATE_GROUPED_IN_SQL,
                behavior_seconds=ESTIMATE_BEHAVIOR_SECONDS,
                history=history,
            )
        except (BacktestUnavailable, ValueError):
            estimates.append(None)
            continue
        if result.stopped_early and rule.trigger_type == TriggerType.BEHAVIOR:
            estimates.append(None)
            continue
        estimates.append(
            {"days": ESTIMATE_DAYS, "would_fire": result.would_fire, "triggers_seen": result.triggers_seen}
        )
    return estimates


def rule_backtest(rule: AutomationRule, user: Any, days: object = DEFAULT_DAYS) -> BacktestResult:
    """A backtest a person asks for (the API, the builder's preview): the one place that checks it.

    ValidationError naming ``days`` unless it is a whole number from 1 to MAX_DAYS; PermissionDenied unless
    ``user`` may test rules of the rule's risk level in its tenant (as for Test Conditions); then
    ``backtest_rule`` with the request's caps. Raises BacktestUnavailable as it does.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError({"days": [f"A whole number of days from 1 to {MAX_DAYS}."]})
    policy.check(user, rule.tenant_id, Capability.TEST, rule.risk_level)
    return backtest_rule(rule, days, max_triggers=REQUEST_MAX_TRIGGERS, max_grouped_in_sql=REQUEST_MAX_GROUPED_IN_SQL)
