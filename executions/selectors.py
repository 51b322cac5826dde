"""Reads about executions."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db import connections
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from automations.models import success_rate
from executions.choices import (
    ACTION_ALLOWED_STATUSES,
    FAILURE_STATUSES,
    ApprovalStatus,
    DeliveryStatus,
    ExecutionStatus,
    FailureKind,
)
from executions.failures import (
    DELIVERY_KINDS,
    DeliveryFact,
    FailureExplanation,
    action_result_deliveries,
    failure_explanation,
    failure_kind_for,
)
from executions.models import (
    ApprovalRequest,
    AutomationExecution,
    Event,
    ExecutionDailyRollup,
    Notification,
    WebhookDelivery,
)
from governance.common.sql_instances import CompiledQuery, instances_from_sql, select_list
from governance.roles import APPROVER_ROLES

if TYPE_CHECKING:
    from automations.models import AutomationRule
    from executions.models import MetricSample
    from governance.models import Tenant


def local_day_bounds(moment: dt.datetime, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The start and end (exclusive) of ``moment``'s calendar day in ``zone``, as aware datetimes."""
    local = moment.astimezone(zone)
    start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end


def rule_executions_run_today_count(rule: AutomationRule, moment: dt.datetime) -> int:
    """How many of the rule's executions were allowed to run their action on ``moment``'s local day."""
    start, end = local_day_bounds(moment, rule.tenant.zone)
    return AutomationExecution.objects.filter(
        automation_rule_id=rule.pk,
        status__in=sorted(ACTION_ALLOWED_STATUSES),
        triggered_at__gte=start,
        triggered_at__lt=end,
    ).count()


# THE definition of "executions" in every count the product shows: executions whose action ran
# (succeeded or failed). The list page's "Last 24h Executions" and per-rule "Executions", the details
# page's totals and last 24h, and the API's total_executions, last_24h_executions and success_rate all
# count these (docs/api.md "Stats"; success_rate leaves out runs only recorded, counted in
# recorded_only_count); skipped, awaiting, rejected, blocked, cancelled and shadowed runs sit beside
# them as their own counts. The rule's running totals (``AutomationRule.add_runs``) add exactly these.
ACTION_RAN_STATUSES = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)
RECENT_EXECUTIONS = 10
STATS_DAYS = 30
MAX_FAILURE_REASONS = 10


# TRICKY: hand-written SQL on the detail endpoint's hot path. The ORM spends longer composing a
# filtered aggregate than the database spends answering it; this text is portable (CASE, not FILTER).
# The totals are the rule's daily roll-ups (kept forever, so pruning raw rows changes none of them; their
# cost follows the rule's days); the last 24 hours, a window across two local days, counts raw rows through
# the (rule, status, triggered_at) index.
OVERVIEW_SUMS_SQL = """
SELECT
    SUM(CASE WHEN status IN (%s, %s) THEN {count} ELSE 0 END) AS ran,
    SUM(CASE WHEN status = %s THEN {count} - recorded_only_count ELSE 0 END) AS succeeded,
    SUM(recorded_only_count) AS recorded_only,
    SUM(CASE WHEN status IN (%s, %s) THEN execution_time_ms_sum ELSE 0 END) AS ms_sum,
    (
        SELECT COUNT(*) FROM {executions}
        WHERE automation_rule_id = %s AND status IN (%s, %s) AND triggered_at >= %s
    ) AS last_24h
FROM {rollups}
WHERE automation_rule_id = %s
"""


def _overview_sums_sql(connection: Any) -> str:
    quote = connection.ops.quote_name
    return OVERVIEW_SUMS_SQL.format(
        count=quote("count"),
        executions=quote(AutomationExecution._meta.db_table),
        rollups=quote(ExecutionDailyRollup._meta.db_table),
    )


def rule_execution_overview(rule: AutomationRule, now: dt.datetime | None = None) -> dict[str, Any]:
    """The get endpoint's stats: totals of executions whose action ran, and those of the last 24 hours."""
    now = now or timezone.now()
    connection = connections[AutomationExecution.objects.db]
    with connection.cursor() as cursor:
        cursor.execute(_overview_sums_sql(connection), _overview_params(rule.pk, now))
        return _overview(*cursor.fetchone())


def _overview_params(rule_id: str, now: dt.datetime) -> list[Any]:
    """The parameters of OVERVIEW_SUMS_SQL, in their order."""
    ran = [str(status) for status in ACTION_RAN_STATUSES]
    succeeded = str(ExecutionStatus.SUCCEEDED)
    return [*ran, succeeded, *ran, rule_id, *ran, now - dt.timedelta(hours=24), rule_id]


def _overview(total: Any, succeeded: Any, recorded_only: Any, ms_sum: Any, last_24h: Any) -> dict[str, Any]:
    """The overview's stats from its sums: runs whose action ran, those only recorded counted apart."""
    total, succeeded, recorded_only = int(total or 0), int(succeeded or 0), int(recorded_only or 0)
    return {
        "total_executions": total,
        "success_rate": success_rate(succeeded, total - succeeded - recorded_only),
        "recorded_only_count": recorded_only,
        "avg_execution_time_ms": _round(float(ms_sum or 0.0) / total) if total else None,
        "last_24h_executions": int(last_24h or 0),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


# TRICKY: the get endpoint's stats and recent executions in one round trip: the overview's sums
# (OVERVIEW_SUMS_SQL) joined to the latest executions, each with its rule version's number. A rule without
# executions gives one row of NULL execution columns. Portable text (a LEFT JOIN ... ON 1 = 1, not LATERAL).
OVERVIEW_WITH_RECENT_SQL = """
SELECT
    {recent_columns},
    versions.version AS rule_version_number,
    overview.ran AS overview_ran,
    overview.succeeded AS overview_succeeded,
    overview.recorded_only AS overview_recorded_only,
    overview.ms_sum AS overview_ms_sum,
    overview.last_24h AS overview_last_24h
FROM ({overview}) overview
LEFT JOIN (
    SELECT {columns} FROM {executions} execution
    WHERE automation_rule_id = %s
    ORDER BY triggered_at DESC, id DESC
    LIMIT %s
) recent ON 1 = 1
LEFT JOIN {versions} versions ON versions.id = recent.rule_version_id
ORDER BY recent.triggered_at DESC, recent.id DESC
"""


@functools.cache
def overview_with_recent_sql(database: str) -> str:
    """OVERVIEW_WITH_RECENT_SQL for a database alias."""
    from automations.models import RuleVersion

    connection = connections[database]
    quote = connection.ops.quote_name
    return OVERVIEW_WITH_RECENT_SQL.format(
        recent_columns=select_list(AutomationExecution, "recent", connection),
        columns=select_list(AutomationExecution, "execution", connection),
        overview=_overview_sums_sql(connection),
        executions=quote(AutomationExecution._meta.db_table),
        versions=quote(RuleVersion._meta.db_table),
    )


def rule_overview_and_recent_executions(
    rule: AutomationRule, now: dt.datetime | None = None, limit: int = RECENT_EXECUTIONS
) -> tuple[dict[str, Any], list[AutomationExecution]]:
    """rule_execution_overview and rule_recent_executions in one query; each execution carries
    ``rule_version_number`` (its rule version's number) instead of the joined version row."""
    now = now or timezone.now()
    params = [*_overview_params(rule.pk, now), rule.pk, limit]
    rows = instances_from_sql(AutomationExecution, overview_with_recent_sql(AutomationExecution.objects.db), params)
    # The overview's SQL aliases, read along on the first row.
    sums = ("ran", "succeeded", "recorded_only", "ms_sum", "last_24h")
    overview = _overview(*(getattr(rows[0], f"overview_{name}") for name in sums))
    return overview, [row for row in rows if row.pk is not None]


def rule_recent_executions(rule: AutomationRule, limit: int = RECENT_EXECUTIONS) -> list[AutomationExecution]:
    executions = AutomationExecution.objects.filter(automation_rule_id=rule.pk).select_related("rule_version")
    return list(executions.order_by("-triggered_at", "-id")[:limit])


def rule_execution_stats(
    rule: AutomationRule, now: dt.datetime | None = None, days: int = STATS_DAYS
) -> dict[str, Any]:
    """The stats endpoint: totals, one entry per day (in the tenant's zone, zero days included), failures.

    Totals and days are read from the rule's daily roll-ups (kept when raw rows are pruned); executions
    awaiting approval (open, so never rolled up) and the failure reasons of the ``days`` window (error
    texts) are read from raw rows through the (rule, status, triggered_at) index.
    """
    now = now or timezone.now()
    rollups = ExecutionDailyRollup.objects.filter(automation_rule_id=rule.pk)
    ran = Q(status__in=ACTION_RAN_STATUSES)
    # A run counts as a success only when something received it; a run only recorded is counted apart
    # (``recorded_only_count``), in neither the successes nor the failures.
    succeeded = Q(status=ExecutionStatus.SUCCEEDED)
    received = F("count") - F("recorded_only_count")
    totals = rollups.aggregate(
        total=Sum("count", filter=ran),
        succeeded=Sum(received, filter=succeeded),
        recorded_only=Sum("recorded_only_count", filter=succeeded),
        failed=Sum("count", filter=Q(status=ExecutionStatus.FAILED)),
        skipped=Sum("count", filter=Q(status=ExecutionStatus.SKIPPED)),
        shadowed=Sum("count", filter=Q(status=ExecutionStatus.SHADOWED)),
        throttled=Sum("count", filter=Q(status=ExecutionStatus.THROTTLED)),
        ms_sum=Sum("execution_time_ms_sum", filter=ran),
    )
    totals = {key: value or 0 for key, value in totals.items()}
    zone = rule.tenant.zone
    today = now.astimezone(zone).date()
    first_day = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
    per_day = (
        rollups.filter(ran, day__gte=first_day)
        .values("day")
        .annotate(
            succeeded=Sum(received, filter=succeeded),
            recorded_only=Sum("recorded_only_count", filter=succeeded),
            failed=Sum("count", filter=Q(status=ExecutionStatus.FAILED)),
        )
        .order_by()
    )
    by_day = {row["day"]: {key: row[key] or 0 for key in ("succeeded", "recorded_only", "failed")} for row in per_day}
    executions_by_day = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        row = by_day.get(day, {"succeeded": 0, "recorded_only": 0, "failed": 0})
        executions_by_day.append(
            {
                "date": day.isoformat(),
                "total": row["succeeded"] + row["recorded_only"] + row["failed"],
                "succeeded": row["succeeded"],
                "failed": row["failed"],
                "recorded_only": row["recorded_only"],
            }
        )
    executions = AutomationExecution.objects.filter(automation_rule_id=rule.pk)
    awaiting = executions.filter(status=ExecutionStatus.AWAITING_APPROVAL).count()
    deferred = executions.filter(status=ExecutionStatus.DEFERRED).count()  # open: never rolled up
    reasons = (
        executions.filter(status=ExecutionStatus.FAILED, triggered_at__gte=start)
        .values("error_message")
        .annotate(count=Count("id"))
        .order_by("-count", "error_message")[:MAX_FAILURE_REASONS]
    )
    total = int(totals["total"])
    return {
        "total_executions": total,
        "success_count": int(totals["succeeded"]),
        "failure_count": int(totals["failed"]),
        "recorded_only_count": int(totals["recorded_only"]),
        "success_rate": success_rate(int(totals["succeeded"]), int(totals["failed"])),
        "avg_execution_time_ms": _round(float(totals["ms_sum"]) / total) if total else None,
        "skipped_count": int(totals["skipped"]),
        "shadowed_count": int(totals["shadowed"]),
        "throttled_count": int(totals["throttled"]),
        "deferred_count": deferred,
        "awaiting_approval_count": awaiting,
        "executions_by_day": executions_by_day,
        "failure_reasons": [
            {"reason": row["error_message"] or "unknown error", "count": row["count"]} for row in reasons
        ],
    }


def action_only_recorded(tenant_id: str, action_type: str) -> bool:
    """Whether a run of ``action_type`` would only be recorded now: a command kind that no enabled webhook
    endpoint of the tenant receives (the pipeline's ``not_delivered`` result). In-process kinds
    (send_notification) and unknown types do something here or fail: False."""
    from executions.actions import UnknownActionType, get_action_entry
    from executions.delivery.selectors import endpoints_receiving

    try:
        entry = get_action_entry(action_type)
    except UnknownActionType:
        return False
    return entry.command is not None and not endpoints_receiving(tenant_id, action_type).exists()


def _latest_metric_samples_query(tenant_id: str) -> QuerySet[MetricSample]:
    """The latest sample of each of the tenant's metrics (PostgreSQL's DISTINCT ON)."""
    from executions.models import MetricSample

    return MetricSample.objects.filter(tenant_id=tenant_id).order_by("metric", "-recorded_at", "-id").distinct("metric")


LATEST_METRIC_SAMPLES: CompiledQuery[MetricSample] = CompiledQuery(
    "latest_metric_samples", 1, _latest_metric_samples_query
)


def tenant_latest_metric_values(tenant_id: str) -> dict[str, object]:
    """The latest value of each of the tenant's metrics, from ``MetricSample`` rows; on a tie of
    ``recorded_at`` the highest id wins. One query where the database has ``DISTINCT ON`` (PostgreSQL: this
    runs for every batch the pipeline evaluates: compiled once per process), two indexed ones elsewhere."""
    from django.db import connection
    from django.db.models import Max, Q

    from executions.models import MetricSample

    if connection.features.can_distinct_on_fields:
        return {sample.metric: sample.value for sample in LATEST_METRIC_SAMPLES.rows(tenant_id)}
    samples = MetricSample.objects.filter(tenant_id=tenant_id)
    latest = samples.values("metric").annotate(latest=Max("recorded_at")).order_by()
    pairs = [(row["metric"], row["latest"]) for row in latest]
    if not pairs:
        return {}
    match = Q()
    for metric, recorded_at in pairs:
        match |= Q(metric=metric, recorded_at=recorded_at)
    values: dict[str, object] = {}
    for sample in samples.filter(match).order_by("metric", "recorded_at", "id"):
        values[sample.metric] = sample.value
    return values


def _event_rules_query(tenant_id: str, event_type: str) -> QuerySet[AutomationRule]:
    from django.db.models import OuterRef, Subquery

    from automations.choices import TriggerType
    from automations.models import AutomationRule, RuleVersion

    # ``current_version_id``: the id of the rule's current RuleVersion, read with the rule (trigger_rule
    # would otherwise look it up once per execution).
    current_version = RuleVersion.objects.filter(rule_id=OuterRef("pk"), version=OuterRef("version")).values("id")[:1]
    return AutomationRule.objects.filter(
        tenant_id=tenant_id, enabled=True, trigger_type=TriggerType.EVENT, event_type=event_type
    ).annotate(current_version_id=Subquery(current_version))


EVENT_RULES: CompiledQuery[AutomationRule] = CompiledQuery("event_rules", 2, _event_rules_query)


def _tenant_query(tenant_id: str) -> QuerySet[Tenant]:
    from governance.models import Tenant

    return Tenant.objects.filter(pk=tenant_id)


TENANT: CompiledQuery[Tenant] = CompiledQuery("tenant", 1, _tenant_query)


def event_rules(tenant_id: str, event_type: str) -> list[AutomationRule]:
    """The tenant's enabled event rules for ``event_type``, each with ``current_version_id`` read along and
    its tenant in memory.

    Uses the partial index ``rule_enabled_event_lookup`` (tenant, event_type), so the cost does not
    grow with other tenants' rules. Runs for every batch of events: compiled once per process
    (``CompiledQuery``).
    """
    rules = EVENT_RULES.rows(tenant_id, event_type)
    tenants = TENANT.rows(tenant_id) if rules else []
    if not tenants:
        return []  # no rules, or a tenant deleted between the two reads (its rules go with it)
    for rule in rules:
        rule.tenant = tenants[0]
    return rules


def rule_accepts_event_source(rule: AutomationRule, source: str) -> bool:
    """An event rule that names a ``source`` in its trigger takes only events from that source."""
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    wanted = config.get("source") or ""
    return not wanted or wanted == source


def rules_matching_event(event: Event) -> list[AutomationRule]:
    """The tenant's enabled event rules for the event's type and, when a rule names one, its source."""
    return [
        rule for rule in event_rules(event.tenant_id, event.event_type) if rule_accepts_event_source(rule, event.source)
    ]


def approvals_for_user(user: User, status: str | None = ApprovalStatus.PENDING) -> QuerySet[ApprovalRequest]:
    """Approval requests of the councils the user sits on (all of them for a superuser), newest first."""
    requests = ApprovalRequest.objects.select_related(
        "execution", "execution__automation_rule", "council", "tenant", "decided_by"
    )
    if not user.is_superuser:
        requests = requests.filter(
            council__memberships__user_id=user.pk, **_seated_with_approver_role("council__", user)
        )
    if status is not None:
        requests = requests.filter(status=status)
    return requests.order_by("-requested_at", "-id")


def approvals_decidable_by(user: User) -> QuerySet[ApprovalRequest]:
    """Pending approval requests the user may decide: those of councils the user sits on."""
    return (
        ApprovalRequest.objects.select_related("execution", "execution__automation_rule", "council", "tenant")
        .filter(
            status=ApprovalStatus.PENDING,
            council__memberships__user_id=user.pk,
            **_seated_with_approver_role("council__", user),
        )
        .order_by("-requested_at", "-id")
    )


def user_may_decide(council_id: str | None, user: User) -> bool:
    """Whether ``user`` sits on the council *and* still has a role that approves in its tenant.

    A seat left behind after a demotion or a removed membership decides nothing.
    """
    from governance.models import CouncilMember

    if council_id is None or not user.is_authenticated or not user.is_active:
        return False
    seats = CouncilMember.objects.filter(council_id=council_id, user_id=user.pk)
    if not user.is_superuser:
        seats = seats.filter(**_seated_with_approver_role("council__", user))
    return seats.exists()


def _seated_with_approver_role(council_path: str, user: User) -> dict[str, Any]:
    """Filters for a council (at ``council_path``) whose tenant gives ``user`` a role that approves."""

    return {
        f"{council_path}tenant__memberships__user_id": user.pk,
        f"{council_path}tenant__memberships__role__in": sorted(APPROVER_ROLES),
    }


def tenant_owner_ids(tenant_id: str) -> list[int]:
    from governance.choices import Role
    from governance.models import Membership

    return list(Membership.objects.filter(tenant_id=tenant_id, role=Role.OWNER).values_list("user_id", flat=True))


# --- the portal ---------------------------------------------------------------------------------


def counted_executions(queryset: QuerySet[AutomationExecution]) -> QuerySet[AutomationExecution]:
    """Only the executions every count counts (``ACTION_RAN_STATUSES``)."""
    return queryset.filter(status__in=ACTION_RAN_STATUSES)


def tenant_executions_since_count(tenant_id: str, since: dt.datetime) -> int:
    """The list page's "Last 24h Executions": the tenant's counted executions triggered since ``since``."""
    return counted_executions(AutomationExecution.objects.filter(tenant_id=tenant_id, triggered_at__gte=since)).count()


def rule_executions(rule: AutomationRule) -> QuerySet[AutomationExecution]:
    return AutomationExecution.objects.filter(automation_rule_id=rule.pk).order_by("-triggered_at", "-id")


def execution_get_for_rule(rule: AutomationRule, execution_id: int) -> AutomationExecution:
    """One of the rule's executions; Http404 for anything else."""
    from django.http import Http404

    execution = rule_executions(rule).filter(pk=execution_id).first()
    if execution is None:
        raise Http404("No such execution.")
    return execution


def notifications_for_user(user: User, tenant_id: str) -> QuerySet[Notification]:
    """The user's in-app notifications in one tenant, newest first."""
    return (
        Notification.objects.filter(user_id=user.pk, tenant_id=tenant_id)
        .select_related("execution")
        .order_by("-created_at", "-id")
    )


def unread_notification_count(user: User, tenant_id: str) -> int:
    return Notification.objects.filter(user_id=user.pk, tenant_id=tenant_id, read_at__isnull=True).count()


def execution_approval(execution: AutomationExecution) -> ApprovalRequest | None:
    """The execution's approval request, with who decided it, if governance asked for one."""
    return ApprovalRequest.objects.select_related("decided_by", "council").filter(execution=execution).first()


# --- the activity log ----------------------------------------------------------------------------

ACTIVITY_PAGE_SIZE = 50


def tenant_activity(tenant_id: str) -> QuerySet[AutomationExecution]:
    """Every execution of the tenant across its rules (archived ones included), newest first."""
    return (
        AutomationExecution.objects.filter(tenant_id=tenant_id)
        .select_related("automation_rule")
        .order_by("-triggered_at", "-id")
    )


def older_than(
    executions: QuerySet[AutomationExecution], cursor: tuple[dt.datetime, int]
) -> QuerySet[AutomationExecution]:
    """The ``executions`` after the keyset cursor ``(triggered_at, id)`` in newest-first order."""
    moment, last_id = cursor
    # TRICKY: the redundant ``triggered_at <= moment`` is what the (tenant, triggered_at) index can range
    # over; PostgreSQL cannot use the OR alone and would walk every newer row of the tenant first (1.7 s
    # instead of 7 ms for a page 5,000,000 rows deep).
    return executions.filter(triggered_at__lte=moment).filter(
        Q(triggered_at__lt=moment) | Q(triggered_at=moment, id__lt=last_id)
    )


def cursor_text(cursor: tuple[dt.datetime, int]) -> str:
    """A keyset cursor as text: ``<triggered_at in UTC, ISO, Z>~<id>`` (no character a query string must escape
    but the colons, which need none)."""
    moment = cursor[0].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{moment}~{cursor[1]}"


def read_cursor(text: str) -> tuple[dt.datetime, int]:
    """The cursor ``cursor_text`` wrote (or one with any ISO offset); ValueError for anything else."""
    moment, _, number = text.rpartition("~")
    parsed = dt.datetime.fromisoformat(moment)
    if parsed.tzinfo is None or not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise ValueError(text)
    try:
        return parsed.astimezone(dt.UTC), int(number)
    except OverflowError as error:  # an offset that moves the first or last day past the calendar's ends
        raise ValueError(text) from error


def activity_page(
    executions: QuerySet[AutomationExecution], after: tuple[dt.datetime, int] | None, size: int | None = None
) -> tuple[list[AutomationExecution], tuple[dt.datetime, int] | None]:
    """One page of ``executions`` (newest first) after the cursor ``(triggered_at, id)`` of the last row
    shown, and the cursor of the next page (None at the end). Keyset paging: a deep page costs what the
    first does, through the (tenant, triggered_at) index."""
    size = size or ACTIVITY_PAGE_SIZE
    if after is not None:
        executions = older_than(executions, after)
    rows = list(executions[: size + 1])
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    return rows, (rows[-1].triggered_at, rows[-1].pk)


# --- failures in plain English -------------------------------------------------------------------


def failure_explanations(executions: Iterable[AutomationExecution]) -> dict[int, FailureExplanation]:
    """The plain-English failure of each execution that failed (``executions.failures``), by id.

    One query for all: the webhook deliveries of those failed by a delivery kind, so the cause names the
    endpoint and its answer. Deliveries no longer stored fall back to what ``action_result`` recorded.
    """
    failing = [e for e in executions if e.status in FAILURE_STATUSES]
    delivery_ids = [
        e.pk for e in failing if (e.failure_kind or failure_kind_for(e.status, e.error_message)) in DELIVERY_KINDS
    ]
    facts: dict[int, list[DeliveryFact]] = {}
    if delivery_ids:
        rows = (
            WebhookDelivery.objects.filter(execution_id__in=delivery_ids)
            .exclude(status=DeliveryStatus.SUCCEEDED)
            .order_by("id")
            .values_list("execution_id", "endpoint__url", "last_status_code", "last_error")
        )
        for execution_id, url, code, error in rows:
            facts.setdefault(execution_id, []).append(DeliveryFact(url or "", code, error))
    explained = {}
    for execution in failing:
        deliveries = facts.get(execution.pk) or action_result_deliveries(execution.action_result)
        explanation = failure_explanation(execution.failure_kind, execution.status, execution.error_message, deliveries)
        if explanation is not None:
            explained[execution.pk] = explanation
    return explained


def attach_failure_explanations(executions: Iterable[AutomationExecution]) -> list[AutomationExecution]:
    """``executions`` as a list, each with ``failure_explained`` (a FailureExplanation, or None) for pages and
    the API to show; one query for all (``failure_explanations``)."""
    rows = list(executions)
    explained = failure_explanations(rows)
    for execution in rows:
        execution.failure_explained = explained.get(execution.pk)  # type: ignore[attr-defined]
    return rows


@dataclass(frozen=True)
class FailureReason:
    """One row of a rule's failure-reasons panel: a kind, how often, when last, and its latest example."""

    kind: str
    label: str
    count: int
    last_seen: dt.datetime
    example: AutomationExecution
    explanation: FailureExplanation | None


def rule_failure_reasons(
    rule: AutomationRule, now: dt.datetime | None = None, days: int = STATS_DAYS
) -> list[FailureReason]:
    """The rule's failures of the last ``days`` days grouped by kind, most frequent first (ended ones: failed,
    blocked, rejected, cancelled), each with its latest execution as the example. Two queries, through the
    (rule, status, triggered_at) index; a rule's failures of the window are read, not its whole history."""
    now = now or timezone.now()
    ended = sorted(FAILURE_STATUSES - {ExecutionStatus.RETRYING})
    failures = AutomationExecution.objects.filter(
        automation_rule_id=rule.pk, status__in=ended, triggered_at__gte=now - dt.timedelta(days=days)
    )
    latest = failures.filter(failure_kind=OuterRef("failure_kind")).order_by("-triggered_at", "-id").values("id")[:1]
    groups = list(
        failures.values("failure_kind")
        .annotate(count=Count("id"), last_seen=Max("triggered_at"), example_id=Subquery(latest))
        .order_by("-count", "failure_kind")[:MAX_FAILURE_REASONS]
    )
    examples = {
        e.pk: e
        for e in attach_failure_explanations(
            AutomationExecution.objects.filter(pk__in=[g["example_id"] for g in groups])
        )
    }
    reasons = []
    for group in groups:
        example = examples[group["example_id"]]
        explanation = example.failure_explained  # type: ignore[attr-defined]
        kind = group["failure_kind"] or (explanation.kind if explanation else FailureKind.INTERNAL_ERROR)
        reasons.append(
            FailureReason(
                kind=kind,
                label=str(FailureKind(kind).label) if kind in FailureKind.values else kind,
                count=group["count"],
                last_seen=group["last_seen"],
                example=example,
                explanation=explanation,
            )
        )
    return reasons
