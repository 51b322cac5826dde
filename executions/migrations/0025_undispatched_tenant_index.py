"""The outbox by tenant (tenant, received_at, id WHERE dispatched_at IS NULL): matching's fair claim scans the
tenants with events waiting and takes each one's oldest; built without blocking ingestion."""

from django.db import migrations, models

from governance.common.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY on PostgreSQL

    dependencies = [
        ("executions", "0024_contact_pressure"),
    ]

    operations = [
        AddIndexOnline(
            model_name="event",
            index=models.Index(
                fields=["tenant", "received_at", "id"],
                condition=models.Q(dispatched_at__isnull=True),
                name="event_undispatched_tenant",
            ),
        ),
    ]
