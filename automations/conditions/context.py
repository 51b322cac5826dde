"""Reading values out of a context: dotted paths and the built-in values (date, now, weekday, time)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final

from automations.conditions.values import MISSING, ZoneSource, datetime_from_text, in_zone
from governance.choices import WEEKDAYS_BY_INDEX

Getter = Callable[[Any], Any]

# Values every context has unless it supplies its own (see docs/conditions.md, Built-in values).
BUILTIN_KEYS: Final = frozenset({"date", "now", "weekday", "time"})


def _is_index(segment: str) -> bool:
    return segment.isascii() and segment.isdigit()


def _step(value: object, segment: str, index: int | None) -> Any:
    """One segment down from ``value``: a key of an object or (for a digit segment) a list index."""
    if isinstance(value, Mapping):
        return value.get(segment, MISSING)
    if index is not None and isinstance(value, list | tuple) and index < len(value):
        return value[index]
    return MISSING


def _walk(value: object, segments: tuple[str, ...], indexes: tuple[int | None, ...], rests: tuple[str, ...]) -> Any:
    """Follow ``segments`` from ``value``; at each object the literal dotted remainder is tried first."""
    for position, segment in enumerate(segments):
        if position and isinstance(value, Mapping) and position < len(segments) - 1:
            literal = value.get(rests[position], MISSING)
            if literal is not MISSING:
                return literal
        value = _step(value, segment, indexes[position])
        if value is MISSING:
            return MISSING
    return value


def make_getter(path: str) -> Getter:
    """A function reading ``path`` from a context; it returns MISSING when the path does not resolve.

    ``customer.total_spent`` first looks for a key literally named ``customer.total_spent``, then walks
    ``context["customer"]["total_spent"]``; a digit segment also indexes a list (``items.0.sku``).
    """
    segments = tuple(path.split("."))
    if len(segments) == 1:

        def get_key(context: Any) -> Any:
            return context.get(path, MISSING)

        return get_key

    indexes = tuple(int(segment) if _is_index(segment) else None for segment in segments)
    rests = tuple(".".join(segments[position:]) for position in range(len(segments)))
    if len(segments) == 2 and indexes[1] is None:
        first, second = segments

        def get_pair(context: Any) -> Any:
            value = context.get(path, MISSING)
            if value is not MISSING:
                return value
            value = context.get(first, MISSING)
            if value.__class__ is dict:
                return value.get(second, MISSING)
            return _step(value, second, None)

        return get_pair

    def get_path(context: Any) -> Any:
        value = context.get(path, MISSING)
        if value is not MISSING:
            return value
        return _walk(context, segments, indexes, rests)

    return get_path


# --- built-in values -----------------------------------------------------------------------------


def builtin_values(context: Mapping[str, Any], zone: ZoneSource) -> dict[str, Any]:
    """date, now, weekday and time for this moment in the rule's zone.

    When the context supplies ``now`` (a datetime or an ISO date-time string), the other three are
    derived from it, so a test or a replayed event sees one consistent moment.
    """
    supplied = context.get("now", MISSING)
    moment: dt.datetime | None = None
    if isinstance(supplied, dt.datetime):
        moment = supplied
    elif isinstance(supplied, str):
        moment = datetime_from_text(supplied)
    moment = dt.datetime.now(zone.get()) if moment is None else in_zone(moment, zone)
    return {
        "now": moment,
        "date": moment.date(),
        "weekday": WEEKDAYS_BY_INDEX[moment.weekday()],
        "time": f"{moment.hour:02d}:{moment.minute:02d}",
    }


def as_context(context: object) -> dict[str, Any] | Mapping[str, Any]:
    """The context as a mapping: a JSON value that is not an object has no keys."""
    if isinstance(context, Mapping):
        return context
    return {}


def with_builtins(context: object, keys: frozenset[str], zone: ZoneSource) -> Mapping[str, Any]:
    """``context`` plus the built-in ``keys`` it does not supply itself (computed only if needed)."""
    mapping = as_context(context)
    missing = [key for key in keys if key not in mapping]
    if not missing:
        return mapping
    values = builtin_values(mapping, zone)
    return {**mapping, **{key: values[key] for key in missing}}
