"""The daily roll-ups of ended executions (``ExecutionDailyRollup``, docs/analytics.md): the one home of
how an ended execution is counted in them, kept up to date as executions end and rebuilt from raw rows.

Every path that ends an execution (``execution_ended``, ``record_evaluations``, blocked at creation,
reject, cancel) adds it to a ``RollupCounts`` in the transaction that moved its status, and records the
batch before commit: one ``INSERT ... ON CONFLICT DO UPDATE SET count = count + excluded.count`` per
chunk of keys. The status change and the increment commit together or not at all, and an execution's
ending is claimed by a guarded update, so each execution is counted once, exactly, however many workers
end executions at once.

TRICKY: deadlocks. A batch upserts its keys sorted, and after the rule rows it updates (``RuleTotals``
also sorted), so every transaction takes these row locks in one global order.

``RuleDailyOutcomes`` (the same counts per rule, day and action type, a column per outcome: what the
dashboard reads) gets each increment's projection (``outcome_sums``) in the same transaction, after the
roll-up rows, so every transaction takes its locks in one order: rules, roll-ups, outcomes.

``rollups_rebuild`` corrects the roll-ups of a tenant's rules from raw rows: one statement reads the
recount and the stored roll-ups from one snapshot and returns their difference, which is then added
with the same upsert. Since endings change a status and its roll-up in one transaction, the snapshot
sees both or neither, and adding a difference commutes with concurrent increments: exact while workers
run. Days whose raw rows may have been pruned (``Tenant.executions_pruned_before``, and the retention
horizon with a margin) are never rebuilt. The outcomes are then corrected from the roll-ups (all days)
the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from django.db import connection, transaction
from django.db.models import CharField, Count, F, FloatField, Q, QuerySet, Sum, Value
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate

from automations.models import AutomationRule, RuleVersion
from executions.choices import ENDED_STATUSES, ExecutionStatus
from executions.models import AutomationExecution, ExecutionDailyRollup, RuleDailyOutcomes
from governance.common.sql_instances import placeholders
from governance.models import Tenant

logger = logging.getLogger(__name__)

UPSERT_CHUNK: Final = 500  # keys per statement (at most 14 parameters each; SQLite allows 32766)
REBUILD_MARGIN: Final = dt.timedelta(days=2)  # before the retention horizon: pruning may move on meanwhile


class RollupKey(NamedTuple):
    """A roll-up row's key, in the unique constraint's sort order after the rule."""

    automation_rule_id: str
    day: dt.date
    status: str
    failure_kind: str
    action_type: str
    trigger_source: str
    tenant_id: str


@dataclass
class RollupSums:
    count: int = 0
    execution_time_ms_sum: float = 0.0
    recorded_only_count: int = 0

    def add(self, count: int, execution_time_ms: float, recorded_only: int) -> None:
        self.count += count
        self.execution_time_ms_sum += execution_time_ms
        self.recorded_only_count += recorded_only

    @property
    def is_zero(self) -> bool:
        return self.count == 0 and self.recorded_only_count == 0 and abs(self.execution_time_ms_sum) < 1e-6


def tenant_zone(execution: AutomationExecution) -> zoneinfo.ZoneInfo | None:
    """The execution's tenant's zone when a tenant row is already in memory (no query), else None."""
    if AutomationExecution.tenant.is_cached(execution):
        return execution.tenant.zone
    if AutomationExecution.automation_rule.is_cached(execution):
        rule = execution.automation_rule
        if type(rule).tenant.is_cached(rule):
            return rule.tenant.zone
    return None


def execution_action_type(execution: AutomationExecution) -> str | None:
    """The action type the execution ran under: its rule version's, else its rule's; None when neither is
    in memory (``RollupCounts`` then reads it). ``rollups_recount`` computes the same in SQL."""
    if execution.rule_version_id is not None:
        if AutomationExecution.rule_version.is_cached(execution):
            definition = execution.rule_version.definition if execution.rule_version is not None else None
            if isinstance(definition, dict) and isinstance(definition.get("action_type"), str):
                return str(definition["action_type"])
        elif not rule_read_at_version(execution):
            return None
    if AutomationExecution.automation_rule.is_cached(execution):
        return str(execution.automation_rule.action_type)
    return None


def rule_read_at_version(execution: AutomationExecution) -> bool:
    """Whether the execution's rule in memory was read at the execution's rule version (the pipeline's
    rules carry ``current_version_id``, read with them: ``executions.selectors.event_rules``), so that its
    fields are that version's."""
    if not AutomationExecution.automation_rule.is_cached(execution):
        return False
    return getattr(execution.automation_rule, "current_version_id", None) == execution.rule_version_id


@dataclass
class _Ended:
    tenant_id: str
    rule_id: str
    rule_version_id: int | None
    triggered_at: dt.datetime
    status: str
    failure_kind: str
    action_type: str | None
    trigger_source: str
    execution_time_ms: float
    recorded_only: bool
    zone: zoneinfo.ZoneInfo | None


@dataclass
class RollupCounts:
    """Ended executions to add to the daily roll-ups; ``record`` writes them (call inside the transaction
    that ended them, after ``RuleTotals.record``)."""

    ended: list[_Ended] = field(default_factory=list)

    def add(
        self,
        execution: AutomationExecution,
        status: str | None = None,
        execution_time_ms: float | None = None,
        recorded_only: bool | None = None,
    ) -> None:
        """Count ``execution`` as ended with ``status`` (default: its status in memory); the time and the
        recorded-only flag default to the execution's."""
        status = str(status or execution.status)
        if status not in ENDED_STATUSES:
            raise ValueError(f"execution {execution.pk} is {status}: only ended executions are rolled up")
        if execution_time_ms is None:
            execution_time_ms = execution.execution_time_ms
        if recorded_only is None:
            recorded_only = execution.recorded_only
        self.ended.append(
            _Ended(
                tenant_id=str(execution.tenant_id),
                rule_id=str(execution.automation_rule_id),
                rule_version_id=execution.rule_version_id,
                triggered_at=execution.triggered_at,
                status=status,
                failure_kind=str(getattr(execution, "failure_kind", "") or ""),
                action_type=execution_action_type(execution),
                trigger_source=str(execution.trigger_source),
                execution_time_ms=float(execution_time_ms or 0.0),
                recorded_only=bool(recorded_only) and status == ExecutionStatus.SUCCEEDED,
                zone=tenant_zone(execution),
            )
        )

    def sums(self) -> dict[RollupKey, RollupSums]:
        """The batch summed per key (reads the zones and action types not in memory, one query each)."""
        self._fill_missing()
        sums: dict[RollupKey, RollupSums] = {}
        for item in self.ended:
            assert item.zone is not None and item.action_type is not None
            key = RollupKey(
                item.rule_id,
                item.triggered_at.astimezone(item.zone).date(),
                item.status,
                item.failure_kind,
                item.action_type,
                item.trigger_source,
                item.tenant_id,
            )
            sums.setdefault(key, RollupSums()).add(1, item.execution_time_ms, int(item.recorded_only))
        return sums

    def record(self) -> None:
        """Add the batch to the roll-ups (sorted upserts), then forget it."""
        if self.ended:
            rollups_add(self.sums())
        self.ended.clear()

    def _fill_missing(self) -> None:
        no_zone = {item.tenant_id for item in self.ended if item.zone is None}
        if no_zone:
            zones = {tenant.pk: tenant.zone for tenant in Tenant.objects.filter(pk__in=no_zone).only("timezone")}
            for item in self.ended:
                if item.zone is None:
                    item.zone = zones.get(item.tenant_id, zoneinfo.ZoneInfo("UTC"))
        no_type = [item for item in self.ended if item.action_type is None]
        if no_type:
            versions = dict(
                RuleVersion.objects.filter(pk__in={i.rule_version_id for i in no_type if i.rule_version_id})
                .annotate(type=KT("definition__action_type"))
                .values_list("pk", "type")
            )
            rules = dict(
                AutomationRule.all_objects.filter(pk__in={i.rule_id for i in no_type}).values_list("pk", "action_type")
            )
            for item in no_type:
                by_version = versions.get(item.rule_version_id) if item.rule_version_id is not None else None
                item.action_type = str(by_version or rules.get(item.rule_id, ""))


def rollups_add_executions(executions: Iterable[AutomationExecution]) -> None:
    """Add ended executions (as they are in memory) to the roll-ups now: a batch of its own."""
    counts = RollupCounts()
    for execution in executions:
        counts.add(execution)
    counts.record()


def rollups_add(sums: dict[RollupKey, RollupSums]) -> None:
    """Add ``sums`` to the roll-up rows (created at zero when missing) and their projection to the rules'
    daily outcomes, in key order, in chunks, in one transaction."""
    with transaction.atomic(savepoint=False):
        _add_to_rollups(sums)
        outcomes_add(outcome_sums(sums))


def _add_to_rollups(sums: dict[RollupKey, RollupSums]) -> None:
    keys = sorted(key for key, value in sums.items() if not value.is_zero)
    day_field = ExecutionDailyRollup._meta.get_field("day")
    rows = [
        [
            *key._replace(day=day_field.get_db_prep_save(key.day, connection)),
            sums[key].count,
            sums[key].execution_time_ms_sum,
            sums[key].recorded_only_count,
        ]
        for key in keys
    ]
    _upsert_adding(
        ExecutionDailyRollup, list(RollupKey._fields), ["count", "execution_time_ms_sum", "recorded_only_count"], rows
    )


def _upsert_adding(model: Any, key_columns: list[str], sum_columns: list[str], rows: list[list[Any]]) -> None:
    """Add each row's sums to the ``model`` row of its key (created at zero when missing): one ``INSERT ... ON
    CONFLICT (key) DO UPDATE SET column = column + excluded.column`` per chunk, rows in the order given (sorted
    by the caller: the lock order). A row is its key's values, then its sums', in the columns' order."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(name) for name in [*key_columns, *sum_columns])
    conflict = ", ".join(quote(name) for name in key_columns)
    updates = ", ".join(f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in sum_columns)
    marks = f"({placeholders(len(key_columns) + len(sum_columns))})"
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_CHUNK):
            chunk = rows[start : start + UPSERT_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * len(chunk))} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
                [value for row in chunk for value in row],
            )


# --- the rules' daily outcomes (RuleDailyOutcomes) -------------------------------------------------------


class OutcomeKey(NamedTuple):
    """A ``RuleDailyOutcomes`` row's key, in its unique constraint's order."""

    automation_rule_id: str
    day: dt.date
    action_type: str
    tenant_id: str


# RuleDailyOutcomes' count columns: a roll-up row of an ended status adds its count to the status's column,
# except a succeeded one, split into ``succeeded`` (received) and ``recorded_only``.
OUTCOME_COLUMNS: Final = (
    "succeeded",
    "recorded_only",
    "failed",
    "skipped",
    "rejected",
    "blocked",
    "cancelled",
    "shadowed",
    "throttled",
)
OUTCOME_TIME_COLUMN: Final = "ran_time_ms_sum"
_RAN_STATUSES: Final = (str(ExecutionStatus.SUCCEEDED), str(ExecutionStatus.FAILED))
assert {str(status) for status in ENDED_STATUSES} <= set(OUTCOME_COLUMNS), "an ended status without a column"


def outcome_sums(sums: dict[RollupKey, RollupSums]) -> dict[OutcomeKey, dict[str, float]]:
    """Roll-up increments (or corrections) as increments of the rules' daily outcomes."""
    outcomes: dict[OutcomeKey, dict[str, float]] = {}
    for key, value in sums.items():
        if value.is_zero:
            continue
        row = outcomes.setdefault(
            OutcomeKey(key.automation_rule_id, key.day, key.action_type, key.tenant_id),
            dict.fromkeys((*OUTCOME_COLUMNS, OUTCOME_TIME_COLUMN), 0),
        )
        if key.status == ExecutionStatus.SUCCEEDED:
            row["succeeded"] += value.count - value.recorded_only_count
            row["recorded_only"] += value.recorded_only_count
        else:
            row[str(key.status)] += value.count
        if key.status in _RAN_STATUSES:
            row[OUTCOME_TIME_COLUMN] += value.execution_time_ms_sum
    return outcomes


def outcomes_add(outcomes: dict[OutcomeKey, dict[str, float]]) -> None:
    """Add increments (negative ones too) to the rules' daily outcome rows, created at zero, in key order."""
    keys = sorted(key for key, row in outcomes.items() if any(row.values()))
    day_field = RuleDailyOutcomes._meta.get_field("day")
    rows = [
        [
            *key._replace(day=day_field.get_db_prep_save(key.day, connection)),
            *(int(outcomes[key][name]) for name in OUTCOME_COLUMNS),
            float(outcomes[key][OUTCOME_TIME_COLUMN]),
        ]
        for key in keys
    ]
    _upsert_adding(RuleDailyOutcomes, list(OutcomeKey._fields), [*OUTCOME_COLUMNS, OUTCOME_TIME_COLUMN], rows)


def outcomes_projection_sql(where: str) -> str:
    """SELECT of the roll-up rows matching ``where`` (SQL over the roll-up table's columns) projected and summed
    as the rules' daily outcome rows: the key columns, then OUTCOME_COLUMNS and OUTCOME_TIME_COLUMN, in order.
    Migration 0026 backfills with the same statement, written out."""
    quote = connection.ops.quote_name
    count, recorded, ms = quote("count"), quote("recorded_only_count"), quote("execution_time_ms_sum")
    succeeded, failed = str(ExecutionStatus.SUCCEEDED), str(ExecutionStatus.FAILED)
    sums = [
        f"SUM(CASE WHEN status = '{succeeded}' THEN {count} - {recorded} ELSE 0 END)",
        f"SUM(CASE WHEN status = '{succeeded}' THEN {recorded} ELSE 0 END)",
        *(f"SUM(CASE WHEN status = '{name}' THEN {count} ELSE 0 END)" for name in OUTCOME_COLUMNS[2:]),
        f"SUM(CASE WHEN status IN ('{succeeded}', '{failed}') THEN {ms} ELSE 0.0 END)",
    ]
    sums = [
        f"{total} AS {quote(name)}" for total, name in zip(sums, [*OUTCOME_COLUMNS, OUTCOME_TIME_COLUMN], strict=True)
    ]
    keys = ", ".join(quote(name) for name in OutcomeKey._fields)
    return (
        f"SELECT {keys}, {', '.join(sums)} FROM {quote(ExecutionDailyRollup._meta.db_table)} "
        f"WHERE {where} GROUP BY {keys}"
    )


def outcomes_fill_sql(where: str) -> str:
    """INSERT of the rules' daily outcome rows projected from the roll-up rows matching ``where`` (for rows
    not there yet: loading a history, as the bench does)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in [*OutcomeKey._fields, *OUTCOME_COLUMNS, OUTCOME_TIME_COLUMN])
    return f"INSERT INTO {quote(RuleDailyOutcomes._meta.db_table)} ({columns}) {outcomes_projection_sql(where)}"


def _outcome_corrections(tenant_id: str, rule_ids: Sequence[str]) -> dict[OutcomeKey, dict[str, float]]:
    """The rules' daily outcomes as their roll-ups project, minus as stored, in ONE statement (one snapshot)."""
    quote = connection.ops.quote_name
    rules = placeholders(len(rule_ids))
    where = f"{quote('tenant_id')} = %s AND {quote('automation_rule_id')} IN ({rules})"
    keys = ", ".join(quote(name) for name in OutcomeKey._fields)
    sum_columns = [*OUTCOME_COLUMNS, OUTCOME_TIME_COLUMN]
    negated = ", ".join(f"-{quote(name)} AS {quote(name)}" for name in sum_columns)
    summed = ", ".join(f"SUM({quote(name)})" for name in sum_columns)
    sql = (
        f"SELECT {keys}, {summed} FROM ("
        f"{outcomes_projection_sql(where)} "
        f"UNION ALL SELECT {keys}, {negated} FROM {quote(RuleDailyOutcomes._meta.db_table)} WHERE {where}"
        f") u GROUP BY {keys}"
    )
    day_field = RuleDailyOutcomes._meta.get_field("day")
    corrections: dict[OutcomeKey, dict[str, float]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant_id, *rule_ids, tenant_id, *rule_ids])
        for rule_id, day, action_type, row_tenant, *values in cursor.fetchall():
            row = {name: float(value or 0) for name, value in zip(sum_columns, values, strict=True)}
            if any(abs(value) > 1e-6 for value in row.values()):
                corrections[OutcomeKey(rule_id, day_field.to_python(day), action_type, row_tenant)] = row
    return corrections


# --- rebuilding from raw rows ---------------------------------------------------------------------------

REBUILD_RULES_PER_BATCH: Final = 50


@dataclass(frozen=True)
class RebuildResult:
    tenants: int = 0
    batches: int = 0
    keys_corrected: int = 0
    executions_added: int = 0  # the corrections' counts summed (negative: roll-ups had counted too many)

    def __add__(self, other: RebuildResult) -> RebuildResult:
        return RebuildResult(
            self.tenants + other.tenants,
            self.batches + other.batches,
            self.keys_corrected + other.keys_corrected,
            self.executions_added + other.executions_added,
        )


def rollups_recount(
    tenant: Tenant, rule_ids: Sequence[str] | None = None, since: dt.date | None = None
) -> QuerySet[Any, Any]:
    """The tenant's ended executions counted per roll-up key from raw rows (``since``: local days from then).

    Values: automation_rule_id, rollup_day, status, rollup_failure_kind, rollup_action_type, trigger_source,
    tenant_id, rollup_count, rollup_ms, rollup_recorded. The definition the live fold (``RollupCounts``)
    follows: local day of ``triggered_at``; action type of the rule version, else of the rule.
    """
    zone = tenant.zone
    executions = AutomationExecution.objects.filter(tenant_id=tenant.pk, status__in=sorted(ENDED_STATUSES))
    if rule_ids is not None:
        executions = executions.filter(automation_rule_id__in=list(rule_ids))
    if since is not None:
        executions = executions.filter(triggered_at__gte=dt.datetime.combine(since, dt.time(0), tzinfo=zone))
    return (
        executions.annotate(
            rollup_day=TruncDate("triggered_at", tzinfo=zone),
            rollup_failure_kind=failure_kind_expression(),
            rollup_action_type=Coalesce(
                Cast(KeyTextTransform("action_type", "rule_version__definition"), CharField()),
                F("automation_rule__action_type"),
            ),
        )
        .values(
            "automation_rule_id",
            "rollup_day",
            "status",
            "rollup_failure_kind",
            "rollup_action_type",
            "trigger_source",
            "tenant_id",
        )
        .annotate(
            rollup_count=Count("id"),
            rollup_ms=Sum(Coalesce("execution_time_ms", Value(0.0), output_field=FloatField())),
            rollup_recorded=Count("id", filter=Q(status=ExecutionStatus.SUCCEEDED, recorded_only=True)),
        )
        .order_by()
    )


def failure_kind_expression() -> Any:
    """The execution's failure kind as the roll-up key reads it ("" until executions carry one)."""
    names = {f.name for f in AutomationExecution._meta.concrete_fields}
    return F("failure_kind") if "failure_kind" in names else Value("", output_field=CharField())


def rebuild_since(tenant: Tenant) -> dt.date | None:
    """The first local day whose raw executions are all still kept (None: none were ever pruned)."""
    if tenant.executions_pruned_before is None:
        return None
    # The day the pruning stopped in may be partly pruned: start the day after it.
    return tenant.executions_pruned_before.astimezone(tenant.zone).date() + dt.timedelta(days=1)


def _corrections(tenant: Tenant, rule_ids: Sequence[str], since: dt.date | None) -> dict[RollupKey, RollupSums]:
    """Recount minus stored roll-ups for the rules, read in ONE statement (one snapshot: see the module doc)."""
    recount_sql, recount_params = rollups_recount(tenant, rule_ids, since).query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(ExecutionDailyRollup._meta.db_table)
    day_field = ExecutionDailyRollup._meta.get_field("day")
    keys = ["automation_rule_id", "day", "status", "failure_kind", "action_type", "trigger_source", "tenant_id"]
    key_list = ", ".join(quote(k) for k in keys)
    stored_filter = f"{quote('tenant_id')} = %s AND {quote('automation_rule_id')} IN ({placeholders(len(rule_ids))})"
    stored_params: list[Any] = [tenant.pk, *rule_ids]
    if since is not None:
        stored_filter += f" AND {quote('day')} >= %s"
        stored_params.append(day_field.get_db_prep_save(since, connection))
    sql = (
        f"SELECT {key_list}, SUM(n), SUM(ms), SUM(rec) FROM ("
        f"SELECT r.automation_rule_id, r.rollup_day AS {quote('day')}, r.status, "
        f"r.rollup_failure_kind AS failure_kind, r.rollup_action_type AS action_type, r.trigger_source, "
        f"r.tenant_id, r.rollup_count AS n, r.rollup_ms AS ms, r.rollup_recorded AS rec FROM ({recount_sql}) r "
        f"UNION ALL SELECT {key_list}, -{quote('count')}, -execution_time_ms_sum, -recorded_only_count "
        f"FROM {table} WHERE {stored_filter}"
        f") u GROUP BY {key_list}"
    )
    corrections: dict[RollupKey, RollupSums] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*recount_params, *stored_params])
        for rule_id, day, status, kind, action_type, source, tenant_id, n, ms, rec in cursor.fetchall():
            sums = RollupSums(int(n or 0), float(ms or 0.0), int(rec or 0))
            if not sums.is_zero:
                key = RollupKey(rule_id, day_field.to_python(day), status, kind, action_type, source, tenant_id)
                corrections[key] = sums
    return corrections


def _apply(corrections: dict[RollupKey, RollupSums]) -> None:
    """Add corrections: increments through the upsert; decrements (their rows exist) by UPDATE."""
    up = {k: v for k, v in corrections.items() if v.count >= 0 and v.recorded_only_count >= 0}
    _add_to_rollups(up)  # the outcomes are corrected from the roll-ups afterwards
    for key in sorted(set(corrections) - set(up)):
        value = corrections[key]
        ExecutionDailyRollup.objects.filter(**key._asdict()).update(
            count=F("count") + value.count,
            execution_time_ms_sum=F("execution_time_ms_sum") + value.execution_time_ms_sum,
            recorded_only_count=F("recorded_only_count") + value.recorded_only_count,
        )


def rollups_rebuild_tenant(tenant_id: str, batch_rules: int = REBUILD_RULES_PER_BATCH) -> RebuildResult:
    """Correct a tenant's roll-ups from its raw executions, ``batch_rules`` rules per short transaction.

    Each batch locks the tenant row (FOR NO KEY UPDATE: inserts referencing the tenant still go on) so the
    pruning, which takes the same lock, cannot delete raw rows between reading the watermark and the
    recount; days before the watermark keep their roll-ups as they are.
    """
    rule_ids = sorted(
        set(AutomationRule.all_objects.filter(tenant_id=tenant_id).values_list("pk", flat=True))
        | set(ExecutionDailyRollup.objects.filter(tenant_id=tenant_id).values_list("automation_rule_id", flat=True))
    )
    result = RebuildResult(tenants=1)
    for start in range(0, len(rule_ids), batch_rules):
        chunk = rule_ids[start : start + batch_rules]
        with transaction.atomic():
            tenant = Tenant.objects.select_for_update(no_key=True).filter(pk=tenant_id).first()
            if tenant is None:
                break
            since = rebuild_since(tenant)
            corrections = _corrections(tenant, chunk, since)
            _apply(corrections)
            # Rows a correction brought to zero (a concurrent ending re-adds its row: the delete re-checks).
            stale = ExecutionDailyRollup.objects.filter(tenant_id=tenant_id, automation_rule_id__in=chunk, count=0)
            if since is not None:
                stale = stale.filter(day__gte=since)
            stale.delete()
            # The outcomes follow the roll-ups (kept whole, pruned days too): corrected from them.
            outcomes_add(_outcome_corrections(tenant_id, chunk))
        result += RebuildResult(
            batches=1,
            keys_corrected=len(corrections),
            executions_added=sum(value.count for value in corrections.values()),
        )
    return result


def rollups_rebuild(
    tenant_ids: Iterable[str] | None = None, batch_rules: int = REBUILD_RULES_PER_BATCH
) -> RebuildResult:
    """``rollups_rebuild_tenant`` for each tenant (all when None); safe to run while workers run."""
    ids = list(tenant_ids) if tenant_ids is not None else list(Tenant.objects.values_list("pk", flat=True))
    result = RebuildResult()
    for tenant_id in ids:
        result += rollups_rebuild_tenant(tenant_id, batch_rules)
    return result
