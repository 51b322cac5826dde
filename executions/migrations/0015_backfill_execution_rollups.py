"""Fill the daily roll-ups from the executions already stored (docs/analytics.md, "Existing installs").

Self-contained on the historical models: one GROUP BY per tenant, rows written with bulk_create into the
table 0014 just created (empty: nothing writes it before this release runs). Executions that end on
workers still running the previous release after this ran are not counted: run
``manage.py rebuild_execution_rollups`` once the new release runs everywhere (safe while workers run).
"""

import datetime as dt
import zoneinfo

from django.db import migrations
from django.db.models import CharField, Count, F, FloatField, Q, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate

ENDED = ["blocked", "cancelled", "failed", "rejected", "shadowed", "skipped", "succeeded"]


def zone_of(name):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def backfill(apps, schema_editor):
    Tenant = apps.get_model("governance", "Tenant")
    Execution = apps.get_model("executions", "AutomationExecution")
    Rollup = apps.get_model("executions", "ExecutionDailyRollup")
    has_kind = any(f.name == "failure_kind" for f in Execution._meta.concrete_fields)
    for tenant_id, zone_name in Tenant.objects.values_list("pk", "timezone"):
        zone = zone_of(zone_name)
        rows = (
            Execution.objects.filter(tenant_id=tenant_id, status__in=ENDED)
            .annotate(
                rollup_day=TruncDate("triggered_at", tzinfo=zone),
                rollup_kind=F("failure_kind") if has_kind else Value("", output_field=CharField()),
                rollup_type=Coalesce(
                    Cast(KeyTextTransform("action_type", "rule_version__definition"), CharField()),
                    F("automation_rule__action_type"),
                ),
            )
            .values("automation_rule_id", "rollup_day", "status", "rollup_kind", "rollup_type", "trigger_source")
            .annotate(
                n=Count("id"),
                ms=Sum(Coalesce("execution_time_ms", Value(0.0), output_field=FloatField())),
                recorded=Count("id", filter=Q(status="succeeded", recorded_only=True)),
            )
            .order_by()
        )
        Rollup.objects.bulk_create(
            (
                Rollup(
                    tenant_id=tenant_id,
                    automation_rule_id=row["automation_rule_id"],
                    day=row["rollup_day"]
                    if isinstance(row["rollup_day"], dt.date)
                    else dt.date.fromisoformat(row["rollup_day"]),
                    status=row["status"],
                    failure_kind=row["rollup_kind"] or "",
                    action_type=row["rollup_type"] or "",
                    trigger_source=row["trigger_source"],
                    count=row["n"],
                    execution_time_ms_sum=row["ms"] or 0.0,
                    recorded_only_count=row["recorded"],
                )
                for row in rows.iterator()
            ),
            batch_size=1000,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0014_execution_daily_rollups"),
        ("governance", "0005_tenant_execution_retention"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
