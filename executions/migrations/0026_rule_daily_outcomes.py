"""The rules' daily outcomes (issue 17: what the analytics dashboard reads), filled from the daily roll-ups.

The backfill is ``executions.rollups.outcomes_projection_sql`` written out (frozen here): one INSERT ... SELECT
over the roll-ups. Executions that end on workers still running the previous release after this ran are not
projected: run ``manage.py rebuild_execution_rollups`` once the new release runs everywhere (safe while
workers run; it corrects the outcomes from the roll-ups).
"""

import django.db.models.deletion
from django.db import migrations, models


BACKFILL = """
INSERT INTO automation_rule_daily_outcomes
    (automation_rule_id, day, action_type, tenant_id, succeeded, recorded_only, failed, skipped, rejected, blocked,
     cancelled, shadowed, throttled, ran_time_ms_sum)
SELECT automation_rule_id, day, action_type, tenant_id,
    SUM(CASE WHEN status = 'succeeded' THEN "count" - recorded_only_count ELSE 0 END),
    SUM(CASE WHEN status = 'succeeded' THEN recorded_only_count ELSE 0 END),
    SUM(CASE WHEN status = 'failed' THEN "count" ELSE 0 END),
    SUM(CASE WHEN status = 'skipped' THEN "count" ELSE 0 END),
    SUM(CASE WHEN status = 'rejected' THEN "count" ELSE 0 END),
    SUM(CASE WHEN status = 'blocked' THEN "count" ELSE 0 END),
    SUM(CASE WHEN status = 'cancelled' THEN "count" ELSE 0 END),
    SUM(CASE WHEN status = 'shadowed' THEN "count" ELSE 0 END),
    SUM(CASE WHEN status = 'throttled' THEN "count" ELSE 0 END),
    SUM(CASE WHEN status IN ('succeeded', 'failed') THEN execution_time_ms_sum ELSE 0.0 END)
FROM automation_execution_daily_rollups
GROUP BY automation_rule_id, day, action_type, tenant_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("automations", "0009_contact_pressure"),
        ("executions", "0025_undispatched_tenant_index"),
        ("governance", "0010_contact_pressure"),
    ]

    operations = [
        migrations.CreateModel(
            name="RuleDailyOutcomes",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("day", models.DateField()),
                ("action_type", models.CharField(max_length=40)),
                ("succeeded", models.BigIntegerField(default=0)),
                ("recorded_only", models.BigIntegerField(default=0)),
                ("failed", models.BigIntegerField(default=0)),
                ("skipped", models.BigIntegerField(default=0)),
                ("rejected", models.BigIntegerField(default=0)),
                ("blocked", models.BigIntegerField(default=0)),
                ("cancelled", models.BigIntegerField(default=0)),
                ("shadowed", models.BigIntegerField(default=0)),
                ("throttled", models.BigIntegerField(default=0)),
                ("ran_time_ms_sum", models.FloatField(default=0.0)),
                (
                    "automation_rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="automations.automationrule"
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="governance.tenant"
                    ),
                ),
            ],
            options={
                "db_table": "automation_rule_daily_outcomes",
                "ordering": ["automation_rule_id", "-day"],
                "indexes": [models.Index(fields=["tenant", "day"], name="rule_daily_outcomes_tenant_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("automation_rule", "day", "action_type", "tenant"),
                        name="rule_daily_outcomes_one_per_key",
                    )
                ],
            },
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
