"""Guarded updates of many rows in one statement, each row with its own values.

The pipeline moves every row with a compare-and-set UPDATE (``transition``); a batch does the same for
all its rows at once::

    WITH v (id, status, ...) AS (VALUES (%s, %s, ...), (%s, %s, ...))
    UPDATE automation_executions SET status = v.status, ... FROM v
    WHERE automation_executions.id = v.id AND <guard> RETURNING automation_executions.id

The guard is the same compare-and-set as one row's (``status IN (...)`` plus per-row key columns such as
the attempt token), so a row another worker moved first is simply not updated, and the ids returned are
the rows this caller won. PostgreSQL and SQLite (3.35+, for RETURNING with UPDATE ... FROM) run it as one
statement; on any other database ``update_rows`` takes the rows one guarded UPDATE each, with the same
guard and the same answer, so callers never branch on the database.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Model

from governance.common.sql_instances import column_of, placeholders


def supported() -> bool:
    """True when the database runs ``update_rows`` (PostgreSQL, or SQLite 3.35 and newer)."""
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)


def update_rows(
    model: type[Model],
    rows: list[dict[str, Any]],
    keys: Iterable[str] = ("id",),
    where: dict[str, Any] | None = None,
) -> set[Any]:
    """Update each row (matched on ``keys``) with its own values, where ``where`` holds; return the ids won.

    ``rows``: dicts with the same field names (attnames), keys included; every other name is set.
    ``where``: field name -> value (equality) or list/tuple (IN), checked on the row as it is now.
    """
    if not rows:
        return set()
    keys = tuple(keys)
    if not supported():
        return _update_rows_one_by_one(model, rows, keys, where or {})
    names = tuple(rows[0])
    where = where or {}
    shape = tuple((name, len(value) if isinstance(value, list | tuple) else None) for name, value in where.items())
    parts = _statement_parts(model, names, keys, shape, connection.vendor)
    params: list[Any] = [field.get_db_prep_save(row[name], connection) for row in rows for name, field in parts.fields]
    for value, field in zip(where.values(), parts.where_fields, strict=True):
        items = value if isinstance(value, list | tuple) else [value]
        params.extend(field.get_db_prep_save(item, connection) for item in items)
    row = f"({placeholders(len(names))})"
    sql = (
        f"WITH v ({parts.columns}) AS (VALUES {', '.join([row] * len(rows))}) "
        f"UPDATE {parts.table} SET {parts.assignments} FROM v WHERE {parts.conditions} RETURNING {parts.returning}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


class StatementParts(NamedTuple):
    """What an ``update_rows`` statement of one shape is made of, apart from its VALUES."""

    fields: tuple[tuple[str, Any], ...]  # (name, field) of each value a row sets, in the rows' order
    where_fields: tuple[Any, ...]  # the field of each guard, in the guards' order
    columns: str
    table: str
    returning: str
    assignments: str
    conditions: str


@functools.lru_cache(maxsize=256)
def _statement_parts(
    model: type[Model],
    names: tuple[str, ...],
    keys: tuple[str, ...],
    where_shape: tuple[tuple[str, int | None], ...],
    vendor: str,
) -> StatementParts:
    """The parts of an ``update_rows`` statement that depend only on its shape (the fields set, the keys,
    the guard's fields and list lengths, the database): worked out once per shape, since the pipeline
    updates rows of the same few shapes for every batch. ``vendor`` is part of the key (``_typed``)."""
    opts = model._meta
    fields = tuple((name, _field(opts, name)) for name in names)
    quote = connection.ops.quote_name
    table = quote(opts.db_table)
    typed = {name: _typed(field, "v." + quote(field.column)) for name, field in fields}
    by_name = dict(fields)
    # Every key must be among the row's names (a KeyError otherwise): a key left out would update every row.
    conditions = [f"{table}.{quote(by_name[name].column)} = {typed[name]}" for name in keys]
    where_fields = tuple(_field(opts, name) for name, _ in where_shape)
    for (_, length), field in zip(where_shape, where_fields, strict=True):
        column = f"{table}.{quote(field.column)}"
        conditions.append(f"{column} IN ({placeholders(length)})" if length is not None else f"{column} = %s")
    return StatementParts(
        fields=fields,
        where_fields=where_fields,
        columns=", ".join(quote(field.column) for _, field in fields),
        table=table,
        returning=f"{table}.{quote(column_of(model, opts.pk.name))}",
        assignments=", ".join(f"{quote(field.column)} = {typed[name]}" for name, field in fields if name not in keys),
        conditions=" AND ".join(conditions),
    )


def _update_rows_one_by_one(
    model: type[Model], rows: list[dict[str, Any]], keys: tuple[str, ...], where: dict[str, Any]
) -> set[Any]:
    """``update_rows`` on a database without multi-row UPDATE ... FROM ... RETURNING: one guarded UPDATE a row."""
    guard = {f"{name}__in" if isinstance(value, list | tuple) else name: value for name, value in where.items()}
    won: set[Any] = set()
    for row in rows:
        match = {name: row[name] for name in keys}
        values = {name: value for name, value in row.items() if name not in keys}
        if model._default_manager.filter(**match, **guard).update(**values) == 1:
            won.add(row[model._meta.pk.attname])
    return won


def _field(opts: Any, name: str) -> Any:
    for field in opts.concrete_fields:
        if name in (field.name, field.attname):
            return field
    raise LookupError(f"{opts.label} has no field {name}")


def _typed(field: Any, expression: str) -> str:
    """On PostgreSQL, cast a VALUES column to the field's type (a column of NULLs would be text)."""
    if connection.vendor != "postgresql":
        return expression
    return f"CAST({expression} AS {field.db_type(connection)})"
