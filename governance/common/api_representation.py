"""What DRF's read-only fields output, as plain functions, for serializers that build their dict directly.

Each function gives exactly the field's ``to_representation`` (and None for None, as a serializer skips
the field for a None value): ``text`` for CharField, ``choice`` for ChoiceField, ``integer``,
``number`` (FloatField), ``boolean`` and ``iso_datetime`` (DateTimeField).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

# DRF's own field, so datetimes read exactly as before (current time zone, "Z" for UTC, microseconds).
_DATETIME_FIELD = serializers.DateTimeField()


def iso_datetime(value: Any) -> str | None:
    return None if value is None else _DATETIME_FIELD.to_representation(value)


def text(value: Any) -> str | None:
    return None if value is None else str(value)


def choice(value: Any) -> str | None:
    """ChoiceField's output: the plain value (a TextChoices member reads as its value), "" stays ""."""
    return None if value is None else str(value)


def integer(value: Any) -> int | None:
    return None if value is None else int(value)


def number(value: Any) -> float | None:
    return None if value is None else float(value)


def boolean(value: Any) -> bool | None:
    return None if value is None else bool(value)
