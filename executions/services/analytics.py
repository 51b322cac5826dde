"""The analytics reads: one tenant's dashboard over the last 7, 30 or 90 days (docs/analytics.md).

The one home of the dashboard's numbers: ``GET /api/analytics`` and the portal's ``/portal/dashboard`` both
call ``tenant_analytics`` (and read their query through ``analytics_query``, so both refuse the same bad
input). Execution counts come from the daily roll-ups (``ExecutionDailyRollup``), webhook figures from the
delivery roll-ups (``DeliveryDailyRollup``), so the cost follows days x rules and days x endpoints, never
the number of executions: the outcome counts from ``RuleDailyOutcomes`` (a row per rule and day), the failure
kinds of the top failing rules from ``ExecutionDailyRollup``. Days are the tenant's local days, the last one today.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, cast

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from automations.choices import Category
from automations.kinds.actions import ACTION_KINDS, minutes_saved_by_action_type
from automations.models import SUCCESS_RATE_HEALTHY, AutomationRule, success_rate
from executions.choices import ApprovalStatus, ExecutionOutcome, ExecutionStatus, FailureKind
from executions.delivery.models import LATENCY_BUCKET_FIELDS, DeliveryDailyRollup, WebhookEndpoint
from executions.delivery.rollups import latency_percentile
from executions.models import ApprovalRequest, AutomationExecution, ExecutionDailyRollup, RuleDailyOutcomes
from executions.rollups import OUTCOME_COLUMNS, OUTCOME_TIME_COLUMN
from governance.models import Tenant
from governance.quotas import HOLD_KIND as QUOTA_HOLD_KIND
from governance.quotas import QuotaUse, quota_use

ALLOWED_DAYS: Final = (7, 30, 90)
DEFAULT_DAYS: Final = 30
TOP_RULES: Final = 5

# The stack of the executions chart, bottom up: every ended status, a succeeded run nothing received apart.
STACKED_OUTCOMES: Final = (
    ExecutionStatus.SUCCEEDED,
    ExecutionOutcome.RECORDED_ONLY,
    ExecutionStatus.FAILED,
    ExecutionStatus.SKIPPED,
    ExecutionStatus.REJECTED,
    ExecutionStatus.BLOCKED,
    ExecutionStatus.CANCELLED,
    ExecutionStatus.SHADOWED,
    ExecutionStatus.THROTTLED,
)

OUTCOME_KEYS: Final = tuple(str(outcome) for outcome in STACKED_OUTCOMES)
SUCCEEDED, FAILED = str(ExecutionStatus.SUCCEEDED), str(ExecutionStatus.FAILED)
RECORDED_ONLY = str(ExecutionOutcome.RECORDED_ONLY)


@dataclass(frozen=True)
class AnalyticsQuery:
    days: int = DEFAULT_DAYS
    category: str = ""


def analytics_query(params: Mapping[str, Any]) -> AnalyticsQuery:
    """``days`` (7, 30 or 90; default 30) and ``category`` (a rule category or empty) from query parameters;
    ValidationError naming each field it cannot read."""
    errors: dict[str, list[str]] = {}
    raw_days = str(params.get("days") or "").strip()
    days = DEFAULT_DAYS
    if raw_days:
        if raw_days.isdigit() and int(raw_days) in ALLOWED_DAYS:
            days = int(raw_days)
        else:
            errors["days"] = [f"Give one of {', '.join(map(str, ALLOWED_DAYS))} (days back from today)."]
    category = str(params.get("category") or "").strip()
    if category and category not in Category.values:
        errors["category"] = [f'"{category[:100]}" is not a category; use one of {", ".join(Category.values)}.']
    if errors:
        raise ValidationError(errors)
    return AnalyticsQuery(days, category)


@dataclass(frozen=True)
class DayExecutions:
    date: dt.date
    counts: dict[str, int]  # outcome (STACKED_OUTCOMES) -> ended executions triggered that day
    success_rate: float | None


@dataclass(frozen=True)
class ExecutionTotals:
    executions: int  # whose action ran: succeeded (recorded only included) or failed, docs/api.md "Stats"
    succeeded: int
    failed: int
    recorded_only: int
    success_rate: float | None
    avg_execution_time_ms: float | None
    by_outcome: dict[str, int]


@dataclass(frozen=True)
class FailingRule:
    rule_id: str
    name: str
    archived: bool
    failed: int
    executions: int
    success_rate: float | None
    main_failure_kind: str
    main_failure_kind_label: str
    main_failure_kind_count: int


@dataclass(frozen=True)
class ApprovalFigures:
    waiting: int  # pending now
    decided: int  # of those requested in the period, approved or rejected
    median_minutes_to_decision: float | None


@dataclass(frozen=True)
class ActionTypeFigures:
    action_type: str
    label: str
    executions: int
    succeeded: int
    failed: int
    recorded_only: int


@dataclass(frozen=True)
class EndpointFigures:
    endpoint_id: int
    url: str
    enabled: bool
    action_type: str  # "" for every action type
    deliveries: int
    succeeded: int
    failed: int
    success_rate: float | None
    attempts: int
    p95_latency_ms: float | None
    failing: bool  # a failed delivery in the period, or disabled by the receiver


@dataclass(frozen=True)
class TimeSavedLine:
    action_type: str
    label: str
    runs: int
    minutes_per_run: float
    tenant_setting: bool  # the tenant's own minutes, not the action kind's default
    minutes: float


@dataclass(frozen=True)
class TimeSaved:
    minutes: float
    hours: float
    by_action_type: list[TimeSavedLine]


@dataclass(frozen=True)
class ActiveRule:
    rule_id: str
    name: str
    archived: bool
    runs: int  # ended executions, any status
    by_day: list[int]


@dataclass(frozen=True)
class QuotaFigures(QuotaUse):
    """The tenant's quotas now (``QuotaUse``: use of each in its current window and its limit, refusals and
    deferrals today, UTC), and the executions held by the quota now."""

    executions_held: int


@dataclass(frozen=True)
class Analytics:
    tenant_id: str
    time_zone: str
    days: int
    category: str
    first_day: dt.date
    last_day: dt.date
    totals: ExecutionTotals
    executions_by_day: list[DayExecutions]
    top_failing_rules: list[FailingRule]
    approvals: ApprovalFigures
    actions_by_type: list[ActionTypeFigures]
    deliveries_by_endpoint: list[EndpointFigures]
    time_saved: TimeSaved
    most_active_rules: list[ActiveRule]
    quotas: QuotaFigures
    # Rates below this are not shown green (docs/failures.md "Success rates"): the rate chart's dashed guide.
    healthy_success_rate: float = field(default=SUCCESS_RATE_HEALTHY)

    def as_dict(self) -> dict[str, Any]:
        """The API's answer: dates as ISO text."""
        answer = asdict(self)
        answer["first_day"], answer["last_day"] = self.first_day.isoformat(), self.last_day.isoformat()
        for day in answer["executions_by_day"]:
            day["date"] = day["date"].isoformat()
        return answer


def tenant_analytics(tenant: Tenant, query: AnalyticsQuery, now: dt.datetime | None = None) -> Analytics:
    """The tenant's dashboard for the query's last ``days`` local days (today included)."""
    now = now or timezone.now()
    last_day = now.astimezone(tenant.zone).date()
    first_day = last_day - dt.timedelta(days=query.days - 1)
    rule_ids = _category_rule_ids(tenant, query.category)
    period = {"tenant_id": tenant.pk, "day__gte": first_day, "day__lte": last_day}
    if rule_ids is not None:
        period["automation_rule_id__in"] = rule_ids
    outcomes = RuleDailyOutcomes.objects.filter(**period)
    rollups = ExecutionDailyRollup.objects.filter(**period)
    by_day, totals = _executions_by_day(outcomes, first_day, query.days)
    sums = _RuleActionSums.read(outcomes)
    by_rule = sums.by_rule()
    names = _rule_names(tenant, _top(by_rule, "failed") + _top(by_rule, "runs"))
    actions = sums.by_action_type()
    return Analytics(
        tenant_id=tenant.pk,
        time_zone=tenant.timezone,
        days=query.days,
        category=query.category,
        first_day=first_day,
        last_day=last_day,
        totals=totals,
        executions_by_day=by_day,
        top_failing_rules=_failing_rules(rollups, by_rule, names),
        approvals=_approvals(tenant, rule_ids, first_day, now),
        actions_by_type=actions,
        deliveries_by_endpoint=_deliveries(tenant, query.category, first_day, last_day),
        time_saved=_time_saved(tenant, actions),
        most_active_rules=_active_rules(outcomes, by_rule, names, first_day, query.days),
        quotas=_quotas(tenant),
    )


def _quotas(tenant: Tenant) -> QuotaFigures:
    """The quotas now, by the quotas' own clock (their windows are the present, whatever the period)."""
    held = AutomationExecution.objects.filter(
        tenant_id=tenant.pk, status=ExecutionStatus.DEFERRED, governance_decision__hold__kind=QUOTA_HOLD_KIND
    ).count()
    return QuotaFigures(**asdict(quota_use(tenant)), executions_held=held)


def _category_rule_ids(tenant: Tenant, category: str) -> list[str] | None:
    """The tenant's rules (archived ones too) in ``category``; None: every rule."""
    if not category:
        return None
    return list(AutomationRule.all_objects.filter(tenant_id=tenant.pk, category=category).values_list("pk", flat=True))


# Every outcome a rule's daily outcomes row counts, summed: its ended executions, any status.
RUNS: Final = sum((F(name) for name in OUTCOME_COLUMNS[1:]), start=F(OUTCOME_COLUMNS[0]))
assert set(OUTCOME_COLUMNS) == set(OUTCOME_KEYS), "the dashboard's stack and the outcome columns differ"


def _executions_by_day(
    outcomes: QuerySet[RuleDailyOutcomes], first_day: dt.date, days: int
) -> tuple[list[DayExecutions], ExecutionTotals]:
    sums_of: dict[str, Any] = {name: Sum(name) for name in (*OUTCOME_KEYS, OUTCOME_TIME_COLUMN)}
    per_day: dict[dt.date, dict[str, int]] = {}
    ran_ms = 0.0
    rows = cast("Iterable[dict[str, Any]]", outcomes.values("day").annotate(**sums_of).order_by())
    for row in rows:
        per_day[row["day"]] = {outcome: int(row[outcome] or 0) for outcome in OUTCOME_KEYS}
        ran_ms += float(row[OUTCOME_TIME_COLUMN] or 0.0)
    result = []
    overall = dict.fromkeys(OUTCOME_KEYS, 0)
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        counts = dict(per_day.get(day) or dict.fromkeys(OUTCOME_KEYS, 0))
        for outcome, count in counts.items():
            overall[outcome] += count
        rate = success_rate(counts[SUCCEEDED], counts[FAILED])
        result.append(DayExecutions(day, counts, rate))
    succeeded, failed, recorded = overall[SUCCEEDED], overall[FAILED], overall[RECORDED_ONLY]
    ran = succeeded + failed + recorded
    totals = ExecutionTotals(
        executions=ran,
        succeeded=succeeded,
        failed=failed,
        recorded_only=recorded,
        success_rate=success_rate(succeeded, failed),
        avg_execution_time_ms=round(ran_ms / ran, 2) if ran else None,
        by_outcome=overall,
    )
    return result, totals


@dataclass(frozen=True)
class _RuleActionSums:
    """One scan of the period's outcome rows summed per (rule, action type): a few hundred rows, from which
    both the per-rule and the per-action-type figures are added up here."""

    rows: list[dict[str, Any]]

    @classmethod
    def read(cls, outcomes: QuerySet[RuleDailyOutcomes]) -> _RuleActionSums:
        sums = outcomes.values("automation_rule_id", "action_type").annotate(
            runs=Sum(RUNS), succeeded=Sum("succeeded"), recorded_only=Sum("recorded_only"), failed=Sum("failed")
        )
        return cls([{key: value or 0 for key, value in row.items()} for row in sums.order_by()])

    def by_rule(self) -> dict[str, dict[str, int]]:
        """Per rule: ``runs`` (ended, any status), ``ran`` (succeeded or failed), ``succeeded`` (something
        received it) and ``failed``."""
        rules: dict[str, dict[str, int]] = defaultdict(lambda: {"runs": 0, "ran": 0, "succeeded": 0, "failed": 0})
        for row in self.rows:
            counts = rules[row["automation_rule_id"]]
            counts["runs"] += int(row["runs"])
            counts["ran"] += int(row["succeeded"]) + int(row["recorded_only"]) + int(row["failed"])
            counts["succeeded"] += int(row["succeeded"])
            counts["failed"] += int(row["failed"])
        return rules

    def by_action_type(self) -> list[ActionTypeFigures]:
        """Per action type: runs whose action ran, succeeded (something received it), failed, recorded only."""
        types: dict[str, dict[str, int]] = defaultdict(lambda: {"succeeded": 0, "failed": 0, "recorded_only": 0})
        for row in self.rows:
            counts = types[row["action_type"]]
            for name in counts:
                counts[name] += int(row[name])
        figures = [
            ActionTypeFigures(
                action_type=action_type,
                label=ACTION_KINDS[action_type].label if action_type in ACTION_KINDS else action_type,
                executions=sum(counts.values()),
                **counts,
            )
            for action_type, counts in types.items()
            if any(counts.values())
        ]
        return sorted(figures, key=lambda figure: (-figure.executions, figure.action_type))


def _top(by_rule: Mapping[str, Mapping[str, int]], key: str) -> list[str]:
    """The ``TOP_RULES`` rules with the most ``key`` (ties by id, so the answer is stable), none at zero."""
    counted = [rule_id for rule_id, counts in by_rule.items() if counts[key]]
    return sorted(counted, key=lambda rule_id: (-by_rule[rule_id][key], rule_id))[:TOP_RULES]


def _rule_names(tenant: Tenant, rule_ids: list[str]) -> dict[str, tuple[str, bool]]:
    rules = AutomationRule.all_objects.filter(tenant_id=tenant.pk, pk__in=set(rule_ids))
    return {pk: (name, deleted is not None) for pk, name, deleted in rules.values_list("pk", "name", "deleted_at")}


def _failure_kind_label(kind: str) -> str:
    if kind in FailureKind.values:
        return str(FailureKind(kind).label)
    return kind or "Not classified"


def _failing_rules(
    rollups: QuerySet[ExecutionDailyRollup],
    by_rule: Mapping[str, Mapping[str, int]],
    names: Mapping[str, tuple[str, bool]],
) -> list[FailingRule]:
    top = _top(by_rule, "failed")
    kinds: dict[str, tuple[int, str]] = {}
    rows = (
        rollups.filter(status=ExecutionStatus.FAILED, automation_rule_id__in=top)
        .values("automation_rule_id", "failure_kind")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for row in rows:
        rule_id, count, kind = row["automation_rule_id"], int(row["n"]), row["failure_kind"]
        best = kinds.get(rule_id)
        if best is None or (count, best[1]) > (best[0], kind):  # most frequent; ties by name
            kinds[rule_id] = (count, kind)
    result = []
    for rule_id in top:
        counts = by_rule[rule_id]
        name, archived = names.get(rule_id, (rule_id, True))
        count, kind = kinds.get(rule_id, (0, ""))
        result.append(
            FailingRule(
                rule_id=rule_id,
                name=name,
                archived=archived,
                failed=counts["failed"],
                executions=counts["ran"],
                success_rate=success_rate(counts["succeeded"], counts["failed"]),
                main_failure_kind=kind,
                main_failure_kind_label=_failure_kind_label(kind),
                main_failure_kind_count=count,
            )
        )
    return result


def _approvals(tenant: Tenant, rule_ids: list[str] | None, first_day: dt.date, now: dt.datetime) -> ApprovalFigures:
    """Pending approvals now, and the median wait of those requested in the period that were decided."""
    requests = ApprovalRequest.objects.filter(tenant_id=tenant.pk)
    if rule_ids is not None:
        requests = requests.filter(automation_rule_id__in=rule_ids)
    waiting = requests.filter(status=ApprovalStatus.PENDING).count()
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=tenant.zone)
    decided = requests.filter(
        status__in=[ApprovalStatus.APPROVED, ApprovalStatus.REJECTED],
        requested_at__gte=start,
        requested_at__lte=now,
        decided_at__isnull=False,
    ).annotate(wait=F("decided_at") - F("requested_at"))
    count = decided.count()
    median = None
    if count:
        # The middle one (the two middle ones' mean for an even count), sorted by the database.
        middle = list(decided.order_by("wait").values_list("wait", flat=True)[(count - 1) // 2 : count // 2 + 1])
        seconds = sum(wait.total_seconds() for wait in middle) / len(middle)
        median = round(seconds / 60, 1)
    return ApprovalFigures(waiting=waiting, decided=count, median_minutes_to_decision=median)


def _deliveries(tenant: Tenant, category: str, first_day: dt.date, last_day: dt.date) -> list[EndpointFigures]:
    """Each endpoint's deliveries in the period (every endpoint, also those with none), failing ones first.

    Deliveries carry no rule category: with ``category`` set, only the endpoints' list is the same and
    the figures are the whole tenant's (docs/analytics.md).
    """
    sums = (
        DeliveryDailyRollup.objects.filter(tenant_id=tenant.pk, day__gte=first_day, day__lte=last_day)
        .values("endpoint_id")
        .annotate(
            succeeded=Sum("deliveries_succeeded"),
            failed=Sum("deliveries_failed"),
            attempts=Sum("attempts"),
            **{name: Sum(name) for name in LATENCY_BUCKET_FIELDS},
        )
        .order_by()
    )
    by_endpoint: dict[int, dict[str, Any]] = {row["endpoint_id"]: dict(row) for row in sums}
    figures = []
    for endpoint in WebhookEndpoint.objects.filter(tenant_id=tenant.pk).order_by("id"):
        row = by_endpoint.get(endpoint.pk, {})
        succeeded, failed = int(row.get("succeeded") or 0), int(row.get("failed") or 0)
        buckets = [int(row.get(name) or 0) for name in LATENCY_BUCKET_FIELDS]
        rate = success_rate(succeeded, failed)
        figures.append(
            EndpointFigures(
                endpoint_id=endpoint.pk,
                url=endpoint.url,
                enabled=endpoint.enabled,
                action_type=endpoint.action_type or "",
                deliveries=succeeded + failed,
                succeeded=succeeded,
                failed=failed,
                success_rate=rate,
                attempts=int(row.get("attempts") or 0),
                p95_latency_ms=latency_percentile(buckets, 0.95),
                failing=bool(failed) or bool(endpoint.disabled_reason and not endpoint.enabled),
            )
        )
    return sorted(figures, key=lambda figure: (not figure.failing, -figure.failed, figure.endpoint_id))


def _time_saved(tenant: Tenant, actions: list[ActionTypeFigures]) -> TimeSaved:
    """Runs something received, times the minutes one saves: the tenant's setting, else the kind's default."""
    defaults = minutes_saved_by_action_type()
    own = tenant.minutes_saved_per_action if isinstance(tenant.minutes_saved_per_action, dict) else {}
    lines = []
    for figure in actions:
        chosen = own.get(figure.action_type)
        tenant_setting = isinstance(chosen, int | float) and not isinstance(chosen, bool)
        minutes_per_run = float(chosen) if isinstance(chosen, int | float) else defaults.get(figure.action_type, 0.0)
        lines.append(
            TimeSavedLine(
                action_type=figure.action_type,
                label=figure.label,
                runs=figure.succeeded,
                minutes_per_run=minutes_per_run,
                tenant_setting=tenant_setting,
                minutes=round(figure.succeeded * minutes_per_run, 1),
            )
        )
    lines.sort(key=lambda line: (-line.minutes, line.action_type))
    minutes = round(sum(line.minutes for line in lines), 1)
    return TimeSaved(minutes=minutes, hours=round(minutes / 60, 1), by_action_type=lines)


def _active_rules(
    outcomes: QuerySet[RuleDailyOutcomes],
    by_rule: Mapping[str, Mapping[str, int]],
    names: Mapping[str, tuple[str, bool]],
    first_day: dt.date,
    days: int,
) -> list[ActiveRule]:
    top = _top(by_rule, "runs")
    per_day: dict[str, list[int]] = {rule_id: [0] * days for rule_id in top}
    rows = outcomes.filter(automation_rule_id__in=top).values("automation_rule_id", "day").annotate(n=Sum(RUNS))
    rows = rows.order_by()
    for row in rows:
        per_day[row["automation_rule_id"]][(row["day"] - first_day).days] += int(row["n"])
    result = []
    for rule_id in top:
        name, archived = names.get(rule_id, (rule_id, True))
        result.append(ActiveRule(rule_id, name, archived, by_rule[rule_id]["runs"], per_day[rule_id]))
    return result


__all__ = ["ALLOWED_DAYS", "Analytics", "AnalyticsQuery", "analytics_query", "tenant_analytics"]
