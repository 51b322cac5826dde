"""Existing DRF tokens (rest_framework.authtoken, no longer installed) become ApiToken rows, hashed.

Their keys keep working: the new table stores each key's SHA-256, which is what a request's key is
looked up by. DRF's table is then dropped (left behind, its foreign key to the users would block deleting
a user), with its migration records, so installing DRF's authtoken app again would start it afresh.
Going back does not restore the table: the keys are not stored anywhere any more.
"""

import datetime as dt
import hashlib

from django.db import migrations
from django.utils.dateparse import parse_datetime

DRF_TABLE = "authtoken_token"
NAME = "DRF token (migrated)"


def aware(value):
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def copy_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} FROM {quote(DRF_TABLE)}")
        rows = cursor.fetchall()
    api_token = apps.get_model("governance", "ApiToken")
    api_token.objects.bulk_create(
        [
            api_token(
                user_id=user_id,
                name=NAME,
                digest=hashlib.sha256(key.encode()).hexdigest(),
                prefix=key[:12],
                created_at=aware(created),
            )
            for key, user_id, created in rows
        ]
    )
    schema_editor.execute(f"DROP TABLE {quote(DRF_TABLE)}")
    schema_editor.execute(f"DELETE FROM {quote('django_migrations')} WHERE {quote('app')} = %s", ["authtoken"])


class Migration(migrations.Migration):
    dependencies = [("governance", "0002_api_token")]

    operations = [migrations.RunPython(copy_drf_tokens, migrations.RunPython.noop)]
