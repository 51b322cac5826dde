"""The delivery roll-up fold's index: a tenant's deliveries changed since a day, built without blocking sends."""

from django.db import migrations, models

from governance.common.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY on PostgreSQL

    dependencies = [
        ("executions", "0020_delivery_daily_rollups"),
    ]

    operations = [
        AddIndexOnline(
            model_name="webhookdelivery",
            index=models.Index(fields=["tenant", "updated_at"], name="delivery_tenant_updated"),
        ),
    ]
