"""Migration operations that keep the service writable while they run."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class AddIndexOnline(migrations.AddIndex):
    """``AddIndex`` that does not block writes on PostgreSQL (``CREATE INDEX CONCURRENTLY``, so events keep
    being accepted while a large table is indexed); a plain ``CREATE INDEX`` elsewhere. Its migration
    must say ``atomic = False``."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            online = AddIndexConcurrently(self.model_name, self.index)
            online.database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            online = AddIndexConcurrently(self.model_name, self.index)
            online.database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddUniqueConstraintOnline(migrations.AddConstraint):
    """``AddConstraint`` for a conditional ``UniqueConstraint`` (a partial unique index) that does not block
    writes on PostgreSQL (``CREATE UNIQUE INDEX CONCURRENTLY``); a plain ``AddConstraint`` elsewhere. Its
    migration must say ``atomic = False``."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        sql = str(self.constraint.create_sql(model, schema_editor))
        plain = "CREATE UNIQUE INDEX "
        if not sql.startswith(plain):  # a constraint that is no index (unconditional): nothing to do online
            raise ValueError(f"{self.constraint.name}: only a conditional unique constraint is built online")
        schema_editor.execute(sql.replace(plain, "CREATE UNIQUE INDEX CONCURRENTLY ", 1))

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
            return
        name = schema_editor.quote_name(self.constraint.name)
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
