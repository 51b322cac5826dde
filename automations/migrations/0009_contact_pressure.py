"""Contact pressure (docs/contact-pressure.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('automations', '0008_rule_breaker'),
    ]

    operations = [
        migrations.AddField(
            model_name='automationrule',
            name='contact_cap',
            field=models.CharField(choices=[('obey', "Obey the tenant's contact caps and quiet hours"), ('exempt', 'Exempt (transactional: never held)')], default='obey', max_length=10),
        ),
        migrations.AddField(
            model_name='automationrule',
            name='when_capped',
            field=models.CharField(choices=[('skip', 'Skip it (throttled)'), ('defer', 'Defer it to the end of the window or the quiet hours (deferred)')], default='skip', max_length=10),
        ),
    ]
