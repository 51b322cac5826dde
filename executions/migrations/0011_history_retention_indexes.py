"""Indexes for pruning old history (executions/services/history.py), built without blocking ingestion."""

from django.db import migrations, models

from governance.common.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY on PostgreSQL

    dependencies = [
        ("executions", "0010_event_caused_by_no_constraint"),
    ]

    operations = [
        AddIndexOnline(model_name="event", index=models.Index(fields=["occurred_at"], name="event_occurred")),
        AddIndexOnline(
            model_name="metricsample", index=models.Index(fields=["recorded_at"], name="metric_sample_recorded")
        ),
    ]
