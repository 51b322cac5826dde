"""PostgreSQL's connection options follow the environment: parameters bound on the server and statements
prepared once they have run DATABASE_PREPARE_THRESHOLD times (Django leaves psycopg's preparing off unless
asked)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from tests.config.test_production_settings import production_env, run
from tests.services import require_postgresql

PRINT_OPTIONS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps(settings.DATABASES["default"]["OPTIONS"]))
"""


def resolved_options(**environment: str) -> dict:
    result = run(["-c", PRINT_OPTIONS], production_env(DATABASE_URL="postgres://u@127.0.0.1:5432/db", **environment))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.database_free
@pytest.mark.parametrize(
    ("environment", "binding", "threshold"),
    [
        ({}, True, 5),
        ({"DATABASE_PREPARE_THRESHOLD": "2"}, True, 2),
        ({"DATABASE_PREPARE_THRESHOLD": "off"}, True, None),
        ({"DATABASE_SERVER_SIDE_BINDING": "false"}, False, None),  # a client-side cursor prepares nothing
    ],
)
def test_postgresql_options_follow_the_environment(environment, binding, threshold):
    options = resolved_options(**environment)
    assert options["server_side_binding"] is binding
    assert options.get("prepare_threshold") == threshold


@pytest.mark.django_db
def test_a_statement_is_prepared_on_the_server_after_five_runs():
    require_postgresql("prepared statements")
    sql = "SELECT count(*) FROM tenants WHERE id = %s"
    with connection.cursor() as cursor:
        for runs in range(6):  # psycopg prepares it at the run after the threshold's five
            cursor.execute(sql, ["nobody"])
            if runs == 4:
                cursor.execute("SELECT statement FROM pg_prepared_statements")
                assert "SELECT count(*) FROM tenants WHERE id = $1" not in {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert "SELECT count(*) FROM tenants WHERE id = $1" in prepared
