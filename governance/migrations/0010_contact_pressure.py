"""Contact pressure (docs/contact-pressure.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0009_tenant_quotas'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='contact_policy',
            field=models.JSONField(blank=True, default=dict, help_text='Per channel (email, sms, push, any): {"email": {"max": 1, "window_hours": 16, "quiet_hours": {"start": "21:00", "end": "08:00"}}}. A channel left out keeps its default (docs/contact-pressure.md); null: no limit on it.'),
        ),
    ]
