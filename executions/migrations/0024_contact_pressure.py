"""Contact pressure: the customer a run is about and the channels its action reaches them on, indexed."""

from django.conf import settings
from django.db import migrations, models

from governance.common.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY on PostgreSQL


    dependencies = [
        ('automations', '0009_contact_pressure'),
        ('executions', '0023_endpoint_health_chain_loop'),
        ('governance', '0010_contact_pressure'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='automationexecution',
            name='contact_channels',
            field=models.CharField(blank=True, db_default='', default='', max_length=64),
        ),
        migrations.AddField(
            model_name='automationexecution',
            name='customer_id',
            field=models.CharField(blank=True, db_default='', default='', max_length=100),
        ),
        AddIndexOnline(
            model_name='automationexecution',
            index=models.Index(condition=models.Q(('customer_id', ''), _negated=True), fields=['tenant', 'customer_id', 'action_started_at'], name='execution_customer_contact'),
        ),
        AddIndexOnline(
            model_name='automationexecution',
            index=models.Index(condition=models.Q(('status', 'deferred')), fields=['next_attempt_at'], name='execution_deferred_due'),
        ),
    ]
