"""An event rule's history read in groups, for a backtest that must answer over millions of events.

What a replayed event decides depends only on what the replay reads of it: the payload's values of the
keys its conditions read (``conditions.paths.context_keys_read``), of its moment the local date or minute
when built-ins or business hours are read, its actor when ``trusted_users_only`` is, and its local day
(by_day, ``max_frequency_per_day``). So the history is read as one row per distinct combination of
those with its count per local day: each combination is evaluated once, by the rule's compiled
conditions, and weighted by its count, which answers exactly what evaluating every event would.

On PostgreSQL the grouping runs in SQL and only those values leave the server (no payload is decoded
here); elsewhere (SQLite) the rows are read and grouped here. Samples are found again afterwards by the
same combination (``read_event_samples``), oldest first, with their whole trigger data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet

from executions.models import Event
from executions.pipeline.match import EVENT_ROW_FIELDS

READ_CHUNK: Final = 2000
CLOCK_NONE: Final = ""
CLOCK_DATE: Final = "date"  # the local date (built-ins date, weekday, day, month, year)
CLOCK_MINUTE: Final = "minute"  # the local minute (built-ins time, hour; business hours on whole minutes)


@dataclass(frozen=True)
class GroupShape:
    """What the replay reads of each event, besides its local day."""

    keys: tuple[str, ...]  # the payload keys the conditions read, in a fixed order
    clock: str  # CLOCK_NONE, CLOCK_DATE or CLOCK_MINUTE
    by_actor: bool  # governance reads the actor (trusted_users_only)


@dataclass(frozen=True)
class EventGroup:
    """Events that agree on everything the replay reads, counted per local day."""

    values: dict[str, Any]  # the payload's values of the shape's keys (a key the payload lacks is left out)
    local: dt.datetime | None  # naive local wall-clock time: the minute, or the date's midnight (None: not read)
    actor_id: int | None  # None unless the shape reads it
    days: list[tuple[dt.date, int]]
    identity: str  # the combination, actor aside: ``read_event_samples`` finds the events by it

    @property
    def count(self) -> int:
        return sum(count for _, count in self.days)


def _oldest(events: QuerySet[Event], limit: int | None, in_order: bool = False) -> QuerySet[Event]:
    """The oldest ``limit`` of ``events`` (all: None), oldest first when ``in_order``."""
    if limit is None and not in_order:
        return events.order_by()
    ordered = events.order_by("occurred_at", "id")
    return ordered[:limit] if limit is not None else ordered


def has_more_than(events: QuerySet[Event], limit: int) -> bool:
    """Whether ``events`` holds more than ``limit`` rows."""
    return events.order_by("occurred_at", "id").values_list("id")[limit : limit + 1].exists()


def read_event_groups(
    events: QuerySet[Event], zone: ZoneInfo, shape: GroupShape, limit: int | None = None
) -> list[EventGroup]:
    """``events`` (the oldest ``limit`` of them) as groups, in no particular order."""
    if connection.vendor == "postgresql":
        return _groups_in_sql(events, zone, shape, limit)
    return _groups_here(events, zone, shape, limit)


def read_event_samples(
    events: QuerySet[Event], zone: ZoneInfo, shape: GroupShape, identities: set[str], count: int, limit: int | None
) -> list[tuple[Any, ...]]:
    """The oldest ``count`` of ``events`` (among its oldest ``limit``) whose group is one of ``identities``,
    as ``(*EVENT_ROW_FIELDS, actor_id)`` rows."""
    if not identities or count <= 0:
        return []
    if connection.vendor == "postgresql":
        return _samples_in_sql(events, zone, shape, identities, count, limit)
    return _samples_here(events, zone, shape, identities, count, limit)


# --- PostgreSQL: grouped in SQL ---------------------------------------------------------------------


def _columns_sql(zone: ZoneInfo, shape: GroupShape) -> tuple[list[str], str, list[Any]]:
    """SQL for each key's value (its JSON text, NULL for a key the payload lacks; text, so ``1`` and ``1.0``
    stay apart as they do in Python) and for the clock, with their params in that order."""
    values = ["(e.payload -> %s::text)::text" for _ in shape.keys]
    params: list[Any] = list(shape.keys)
    if shape.clock == CLOCK_NONE:
        return values, "NULL::timestamp", params
    unit = "minute" if shape.clock == CLOCK_MINUTE else "day"
    return values, f"date_trunc('{unit}', e.occurred_at AT TIME ZONE %s)", [*params, zone.key]


def _identity_sql(values: list[str], clock: str) -> str:
    """One text for the values and the clock: JSON texts are never empty, so '' stands for a missing key."""
    return " || '|' || ".join([*(f"coalesce({value}, '')" for value in values), f"coalesce(({clock})::text, '')"])


def _groups_in_sql(events: QuerySet[Event], zone: ZoneInfo, shape: GroupShape, limit: int | None) -> list[EventGroup]:
    inner, inner_params = _oldest(events, limit).values("payload", "occurred_at", "actor_id").query.sql_with_params()
    values, clock, params = _columns_sql(zone, shape)
    actor = "e.actor_id" if shape.by_actor else "NULL::integer"
    named = [f"g.v{index}" for index in range(len(values))]
    selected = "".join(f"{value} AS v{index}, " for index, value in enumerate(values))
    keys = ", ".join(str(position) for position in range(1, len(values) + 3))  # the values, the clock, the actor
    sql = f"""
        SELECT {"".join(f"{name}, " for name in named)}g.clock, g.actor, {_identity_sql(named, "g.clock")},
               array_agg(g.day ORDER BY g.day), array_agg(g.n ORDER BY g.day)
        FROM (
            SELECT {selected}{clock} AS clock, {actor} AS actor, (e.occurred_at AT TIME ZONE %s)::date AS day,
                   count(*) AS n
            FROM ({inner}) AS e
            GROUP BY {keys}, {len(values) + 3}
        ) AS g
        GROUP BY {keys}
    """
    groups = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, zone.key, *inner_params])
        for *texts, local, actor_id, identity, days, counts in cursor.fetchall():
            found = {key: json.loads(text) for key, text in zip(shape.keys, texts, strict=True) if text is not None}
            groups.append(EventGroup(found, local, actor_id, list(zip(days, counts, strict=True)), identity))
    return groups


def _samples_in_sql(
    events: QuerySet[Event], zone: ZoneInfo, shape: GroupShape, identities: set[str], count: int, limit: int | None
) -> list[tuple[Any, ...]]:
    inner, inner_params = _oldest(events, limit).values(*EVENT_ROW_FIELDS, "actor_id").query.sql_with_params()
    values, clock, params = _columns_sql(zone, shape)
    columns = ", ".join(f"e.{name}" for name in (*EVENT_ROW_FIELDS, "actor_id"))
    sql = f"""
        SELECT {columns} FROM ({inner}) AS e
        WHERE {_identity_sql(values, clock)} = ANY(%s)
        ORDER BY e.occurred_at, e.id
        LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*inner_params, *params, sorted(identities), count])
        rows = cursor.fetchall()
    payload_at = EVENT_ROW_FIELDS.index("payload")
    return [
        tuple(
            json.loads(value) if index == payload_at and isinstance(value, str) else value
            for index, value in enumerate(row)
        )
        for row in rows
    ]


# --- elsewhere: grouped here -------------------------------------------------------------------------


def _local_clock(occurred_at: dt.datetime, zone: ZoneInfo, clock: str) -> tuple[dt.date, dt.datetime | None]:
    local = occurred_at.astimezone(zone).replace(tzinfo=None)
    if clock == CLOCK_MINUTE:
        return local.date(), local.replace(second=0, microsecond=0)
    if clock == CLOCK_DATE:
        return local.date(), local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.date(), None


def _combination_here(payload: Any, keys: tuple[str, ...]) -> str:
    payload = payload if isinstance(payload, dict) else {}
    return json.dumps([[payload[key]] if key in payload else [] for key in keys], sort_keys=True)


def _identity_here(combination: str, local: dt.datetime | None) -> str:
    return f"{combination}|{local.isoformat(sep=' ') if local is not None else ''}"


def _groups_here(events: QuerySet[Event], zone: ZoneInfo, shape: GroupShape, limit: int | None) -> list[EventGroup]:
    counts: dict[tuple[str, dt.datetime | None, int | None], Counter[dt.date]] = {}
    values: dict[str, dict[str, Any]] = {}
    rows = _oldest(events, limit).values_list("occurred_at", "actor_id", "payload")
    for occurred_at, actor_id, payload in rows.iterator(chunk_size=READ_CHUNK):
        combination = _combination_here(payload, shape.keys)
        day, local = _local_clock(occurred_at, zone, shape.clock)
        key = (combination, local, actor_id if shape.by_actor else None)
        counts.setdefault(key, Counter())[day] += 1
        if combination not in values:
            data = payload if isinstance(payload, dict) else {}
            values[combination] = {name: data[name] for name in shape.keys if name in data}
    return [
        EventGroup(values[combination], local, actor_id, sorted(days.items()), _identity_here(combination, local))
        for (combination, local, actor_id), days in counts.items()
    ]


def _samples_here(
    events: QuerySet[Event], zone: ZoneInfo, shape: GroupShape, identities: set[str], count: int, limit: int | None
) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    rows = _oldest(events, limit, in_order=True).values_list(*EVENT_ROW_FIELDS, "actor_id")
    payload_at, occurred_at = EVENT_ROW_FIELDS.index("payload"), EVENT_ROW_FIELDS.index("occurred_at")
    for row in rows.iterator(chunk_size=READ_CHUNK):
        _, local = _local_clock(row[occurred_at], zone, shape.clock)
        if _identity_here(_combination_here(row[payload_at], shape.keys), local) in identities:
            found.append(tuple(row))
            if len(found) == count:
                break
    return found
