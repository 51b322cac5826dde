"""Model instances from hand-written SQL, as ``Model.objects.raw()`` gives them, for hot read paths.

TRICKY: on a small query, RawQuerySet spends several times the database's answer time working out, on
every call, which column feeds which field and which converters (JSON, datetimes on SQLite) each needs,
and psycopg builds a description object per column each time the description is read. Here that plan
is worked out on a query's first run and reused for the same SQL text on the same connection, so the
text must name its columns (``select_list``), never ``*``: a column added by a migration while the
process runs must not shift the values. Instances are built as RawQuerySet builds them
(``Model.from_db``, the same converters, extra columns as attributes); tests/config/test_sql_instances.py
compares them.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql import Query

ModelT = TypeVar("ModelT", bound=models.Model)


@dataclass(frozen=True)
class RowPlan:
    """How one query's rows become instances: field names and their columns, converters, extras."""

    init_names: list[str]
    init_positions: list[int]
    converters: list[tuple[int, list[Callable[..., Any]], Any]]
    extra_columns: list[tuple[str, int]]


_PLANS: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[tuple[type[models.Model], str], RowPlan]] = (
    weakref.WeakKeyDictionary()
)


def select_list(model: type[models.Model], table_alias: str, connection: BaseDatabaseWrapper) -> str:
    """``alias."column", ...`` for every concrete field of ``model``, in field order."""
    quote = connection.ops.quote_name
    return ", ".join(f"{table_alias}.{quote(_column(field))}" for field in model._meta.concrete_fields)


def _column(field: models.Field[Any, Any] | models.ForeignObjectRel) -> str:
    """A concrete field's column: Django calls a field concrete when its column is not None."""
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise ValueError(f"{field} has no column.")
    return column


def column_of(model: type[models.Model], field_name: str) -> str:
    """The column of ``model``'s concrete field ``field_name`` (for hand-written SQL)."""
    return _column(model._meta.get_field(field_name))


def placeholders(count: int) -> str:
    """``%s, %s, ...``: ``count`` parameter markers for hand-written SQL (an IN list, a VALUES row)."""
    return ", ".join(["%s"] * count)


def row_plan(model: type[models.Model], columns: Sequence[str], connection: BaseDatabaseWrapper) -> RowPlan:
    """RawQuerySet.resolve_model_init_order and its converters, for result ``columns``."""
    identifier = connection.introspection.identifier_converter
    names = [identifier(column) for column in columns]
    fields_by_column = {identifier(_column(field)): field for field in model._meta.concrete_fields}
    init_fields = [field for field in model._meta.concrete_fields if identifier(_column(field)) in names]
    if model._meta.pk not in init_fields:
        raise ValueError("Hand-written SQL for model instances must select the primary key.")
    compiler = connection.ops.compiler("SQLCompiler")(Query(model), connection, connection.alias)
    fields = [fields_by_column.get(name) for name in names]
    columns_as_expressions = [field.get_col(model._meta.db_table) if field else None for field in fields]
    return RowPlan(
        init_names=[field.attname for field in init_fields],
        init_positions=[names.index(identifier(_column(field))) for field in init_fields],
        # A column without a field is None, as in RawQuerySet; the stubs want an Expression for each.
        converters=[
            (position, converters, expression)
            for position, (converters, expression) in compiler.get_converters(columns_as_expressions).items()  # type: ignore[arg-type]
        ],
        extra_columns=[(name, position) for position, name in enumerate(names) if name not in fields_by_column],
    )


def instances_from_sql(model: type[ModelT], sql: str, params: Sequence[Any]) -> list[ModelT]:
    """The rows of ``sql`` as ``model`` instances; columns that are not the model's become attributes."""
    db = router.db_for_read(model)
    connection = connections[db]
    plans = _PLANS.setdefault(connection, {})
    plan = plans.get((model, sql))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if plan is None:
            if ".*" in sql or "SELECT *" in sql.upper():
                raise ValueError("Hand-written SQL for model instances must name its columns, not *.")
            plan = plans[(model, sql)] = row_plan(model, [column[0] for column in cursor.description], connection)
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        values = list(row)
        for position, converters, expression in plan.converters:
            value = values[position]
            for converter in converters:
                value = converter(value, expression, connection)
            values[position] = value
        instance = model.from_db(db, plan.init_names, [values[position] for position in plan.init_positions])
        for column, position in plan.extra_columns:
            setattr(instance, column, values[position])
        instances.append(instance)
    return instances


class Marker(str):
    """The stand-in value of one argument of a ``CompiledQuery`` (a string no caller would pass)."""


class CompiledQuery(Generic[ModelT]):
    """A queryset built and compiled by the ORM once per database and process, then run as
    ``instances_from_sql`` with each call's values: for the pipeline's hottest reads, where building and
    compiling a queryset with a subquery cost several times the statement (docs/pipeline.md, "What one
    task costs"). The queryset stays the one definition of what is read; only its compilation is kept.

    ``build(*values)`` returns the queryset; each value must reach the SQL once, as a parameter (equality
    filters do). It is compiled with ``Marker`` values, which each call replaces with its own.
    """

    def __init__(self, name: str, arity: int, build: Callable[..., models.QuerySet[ModelT]]) -> None:
        self.markers = [Marker(f"<{name} argument {index}>") for index in range(arity)]
        self.build = build
        self.model: type[ModelT] | None = None  # learnt on the first call (the apps are loaded by then)
        self.compiled: dict[str, tuple[str, tuple[Any, ...]]] = {}  # by database alias

    def rows(self, *values: Any) -> list[ModelT]:
        """The queryset's rows for ``values`` (as many as ``build`` takes), as model instances."""
        if self.model is None:
            self.model = self.build(*self.markers).model
        db = router.db_for_read(self.model)
        compiled = self.compiled.get(db)
        if compiled is None:
            sql, params = self.build(*self.markers).query.get_compiler(using=db).as_sql()
            if sorted(param for param in params if isinstance(param, Marker)) != sorted(self.markers):
                raise ValueError("each argument of a compiled query must reach its SQL once, as a parameter")
            compiled = self.compiled[db] = (sql, tuple(params))
        sql, params = compiled
        by_marker = dict(zip(self.markers, values, strict=True))
        return instances_from_sql(self.model, sql, [by_marker[p] if isinstance(p, Marker) else p for p in params])


def insert_new_instances(instances: Sequence[ModelT], unique: tuple[str, ...]) -> list[ModelT]:
    """INSERT the new ``instances`` by hand, as ``Model.save()`` would insert them (each field's ``pre_save``
    and ``get_db_prep_save``), skipping any whose ``unique`` fields a stored row or an earlier instance of
    the list already holds. Returns the inserted ones, with the primary keys the database gave them. No
    ``pre_save``/``post_save`` signals are sent.

    The model has an auto primary key, and a database default only where a Python default applies too;
    ``unique`` names the fields of one of its ``UniqueConstraint``s (with or without a condition), whose
    values are plain (text, integers) and never None on these instances.

    One ``INSERT ... ON CONFLICT (unique) [WHERE condition] DO NOTHING RETURNING`` per 500 instances
    (PostgreSQL, SQLite 3.35+): no savepoint, and a row a concurrent transaction is inserting with the
    same key waits for it and is then skipped. Elsewhere one ``save()`` each in a savepoint, where the
    constraint decides.

    TRICKY: for the ingestion path, where ``Model.save()`` was a quarter of the lean path's time by profile,
    and a list of 100 events cost 300 round trips (a savepoint, an INSERT and a release each) before this
    (docs/operations.md, "Lists of events in one statement").
    """
    if not instances:
        return []
    model = type(instances[0])
    opts = model._meta
    db = router.db_for_write(model)
    connection = connections[db]
    fields = [field for field in opts.local_concrete_fields if field is not opts.auto_field]
    if opts.auto_field is None or any(f.db_default is not models.NOT_PROVIDED and not f.has_default() for f in fields):
        raise ValueError(f"{opts.label}: insert_new_instances takes models with an auto key and Python defaults")
    by_name = {field.name: field for field in fields}
    if any(name not in by_name for name in unique):
        raise ValueError(f"{opts.label}: {unique} are not all its concrete fields")
    unique_attributes = [by_name[name].attname for name in unique]  # in RETURNING's order
    fresh: dict[tuple[Any, ...], ModelT] = {}
    for instance in instances:
        key = tuple(getattr(instance, attname) for attname in unique_attributes)
        if None in key:
            raise ValueError(f"{opts.label}: an instance without a value for {unique}")
        fresh.setdefault(key, instance)
    if not connection.features.can_return_rows_from_bulk_insert:
        return [instance for instance in fresh.values() if _saved_unless_taken(instance, db)]
    inserted: list[ModelT] = []
    rows = list(fresh.items())
    per_statement = max(1, min(INSERT_ROWS_PER_STATEMENT, INSERT_PARAMETERS_PER_STATEMENT // len(fields)))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = _insert_new_sql(model, unique, len(chunk), connection.vendor)
        params = [
            field.get_db_prep_save(field.pre_save(instance, True), connection)
            for _key, instance in chunk
            for field in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            keys = {tuple(values): pk for pk, *values in cursor.fetchall()}
        for key, instance in chunk:
            if key in keys:
                instance.pk = keys[key]
                instance._state.adding = False
                instance._state.db = db
                inserted.append(instance)
    return inserted


# Rows and parameters of one ``insert_new_instances`` statement at most (SQLite allows 32,766 parameters,
# PostgreSQL 65,535).
INSERT_ROWS_PER_STATEMENT = 500
INSERT_PARAMETERS_PER_STATEMENT = 30_000


def _saved_unless_taken(instance: models.Model, db: str) -> bool:
    """``save()`` a new instance in a savepoint; False when a unique constraint refused it."""
    try:
        with transaction.atomic(using=db):
            instance.save(force_insert=True, using=db)
    except IntegrityError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _insert_new_sql(model: type[models.Model], unique: tuple[str, ...], rows: int, vendor: str) -> str:
    """``INSERT INTO table (columns) VALUES (...), ... ON CONFLICT (unique) DO NOTHING RETURNING pk, unique``
    for ``insert_new_instances`` (``vendor``: part of the key)."""
    opts = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = [field for field in opts.local_concrete_fields if field is not opts.auto_field]
    columns = ", ".join(quote(_column(field)) for field in fields)
    row = f"({placeholders(len(fields))})"
    unique_columns = ", ".join(quote(_column(opts.get_field(name))) for name in unique)
    return (
        f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "
        f"ON CONFLICT ({unique_columns}){_constraint_condition(model, unique, connection)} DO NOTHING "
        f"RETURNING {quote(_column(opts.pk))}, {unique_columns}"
    )


def _constraint_condition(model: type[models.Model], unique: tuple[str, ...], connection: BaseDatabaseWrapper) -> str:
    """`` WHERE <condition>`` of the model's UniqueConstraint on ``unique`` (empty without a condition): an
    ON CONFLICT target names a partial unique index by its predicate. ValueError when there is no such
    constraint.

    TRICKY: the condition is compiled by Django's own ``UniqueConstraint._get_condition_sql``, as the
    migration that made the index compiled it (a schema editor is made for its quoting, never entered).
    """
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and tuple(constraint.fields) == unique:
            if constraint.condition is None:
                return ""
            return f" WHERE {constraint._get_condition_sql(model, connection.schema_editor())}"  # type: ignore[attr-defined]
    raise ValueError(f"{model._meta.label} has no UniqueConstraint on {unique}")
