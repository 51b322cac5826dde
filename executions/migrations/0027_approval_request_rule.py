"""Approval requests carry their execution's rule (the dashboard's category filter reads it without a join);
the requests already stored get it from their executions, in one UPDATE (approval requests are few: one per
execution that needed a council)."""

import django.db.models.deletion
from django.db import migrations, models


BACKFILL = """
UPDATE automation_approval_requests
SET automation_rule_id = (
    SELECT e.automation_rule_id FROM automation_executions e WHERE e.id = automation_approval_requests.execution_id
)
WHERE automation_rule_id IS NULL
"""


class Migration(migrations.Migration):

    dependencies = [
        ('automations', '0009_contact_pressure'),
        ('executions', '0026_rule_daily_outcomes'),
    ]

    operations = [
        migrations.AddField(
            model_name='approvalrequest',
            name='automation_rule',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='automations.automationrule'),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
]
