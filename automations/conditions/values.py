"""How condition values are coerced, compared and shown.

The coercion path is chosen once, at compile time, from the *expected* value (the condition's
``value``): a :class:`Mode` says how an actual value from the context is turned into something
comparable with it. Nothing here raises on context data; an actual value that cannot be compared
gives ``None`` from :meth:`Mode.pair`, and the caller fails the condition with :meth:`Mode.why_not`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeGuard

UTC_ZONE: Final = zoneinfo.ZoneInfo("UTC")


class _Missing:
    """The value of a key that the context does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


# --- time zones ----------------------------------------------------------------------------------


def zone_or_utc(name: object) -> zoneinfo.ZoneInfo:
    """The IANA zone called ``name``; UTC when the name is not a valid zone."""
    if isinstance(name, zoneinfo.ZoneInfo):
        return name
    if not isinstance(name, str) or not name or len(name) > 64:
        return UTC_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


class ZoneSource:
    """The rule's time zone, looked up the first time a comparison or built-in needs it.

    A rule's zone is its tenant's, which costs a database query; most conditions never need it.
    """

    __slots__ = ("_resolve", "_zone")

    def __init__(self, zone: zoneinfo.ZoneInfo | None = None, resolve: Callable[[], object] | None = None) -> None:
        self._zone = zone
        self._resolve = resolve

    @classmethod
    def named(cls, timezone_name: str) -> ZoneSource:
        return cls(zone=zone_or_utc(timezone_name))

    @property
    def resolved(self) -> bool:
        return self._zone is not None

    def get(self) -> zoneinfo.ZoneInfo:
        zone = self._zone
        if zone is None:
            zone = self._zone = zone_or_utc(self._resolve() if self._resolve is not None else None)
        return zone


# --- numbers -------------------------------------------------------------------------------------

# Longer numeric texts are refused rather than parsed: int() of a huge digit string is slow.
MAX_NUMERIC_TEXT: Final = 100


def number_from_text(text: str) -> int | float | None:
    """``"3"`` -> 3, ``" -2.5 "`` -> -2.5, ``"1e3"`` -> 1000.0; None for anything else, nan and inf too.

    ASCII only and no ``_`` (which int() and float() would accept: "1_000", Arabic-Indic digits).
    """
    if len(text) > MAX_NUMERIC_TEXT or not text.isascii() or "_" in text:
        return None
    text = text.strip()
    digits = text[1:] if text[:1] in ("+", "-") else text
    if digits.isdigit():
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value - value == 0 else None  # x - x is nan for nan and inf


def to_number(value: object) -> int | float | decimal.Decimal | None:
    """A finite number from a number or a numeric string; None otherwise (booleans are not numbers)."""
    cls = value.__class__
    if cls is int:
        return value  # type: ignore[return-value]
    if cls is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if cls is str:
        return number_from_text(value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        return number_from_text(str(value))
    return None


def is_number(value: object) -> TypeGuard[int | float | decimal.Decimal]:
    """An int, float or Decimal that is not a bool (finite or not)."""
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


# --- dates ---------------------------------------------------------------------------------------

_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"  # date and hours:minutes
    r"(?::\d{2}(?:[.,]\d{1,6})?)?"  # seconds and fraction
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?"  # offset
)


_date_fromisoformat: Final = dt.date.fromisoformat
_datetime_fromisoformat: Final = dt.datetime.fromisoformat


def date_from_text(text: str) -> dt.date | None:
    """``"2025-12-01"`` -> date(2025, 12, 1); None unless the text is exactly an ISO date.

    TRICKY: no regular expression (it cost twice the parse): fromisoformat reads ASCII digits only,
    so with dashes at 4 and 7 in ten characters it accepts exactly the texts that ``_DATE_RE``
    matches (tests/automations/test_conditions_properties.py checks it against the pattern).
    """
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return _date_fromisoformat(text)
    except ValueError:
        return None


# The usual layouts of a date and time: the characters at 4, 7, 10, ... (``text[4::3]``, every
# separator and nothing else) -> the text's length. Seconds, then nothing, Z or an offset.
USUAL_DATETIME_LAYOUTS: Final = {
    f"--{separator}::{tail}": 19 + {"": 0, "Z": 1}.get(tail, 6)
    for separator in ("T", " ")
    for tail in ("", "Z", "+:", "-:")
}


def datetime_from_text(text: str) -> dt.datetime | None:
    """An ISO date and time (``2025-12-01T09:30``, ``...:00Z``, ``...+01:00``); None otherwise.

    TRICKY: the usual layouts (what isoformat() and JSON APIs write: seconds, then nothing, Z or an
    offset; or microseconds, then the same) skip the pattern: with every separator in place,
    fromisoformat accepts them only when the other characters are ASCII digits, which is what
    ``_DATETIME_RE`` asks for. The property tests check this against the pattern.
    """
    if USUAL_DATETIME_LAYOUTS.get(text[4::3]) == len(text):
        try:
            return _datetime_fromisoformat(text)
        except ValueError:
            return None
    size = len(text)
    if (
        26 <= size <= 32
        and text[19] == "."
        and text[4] == "-"
        and text[7] == "-"
        and text[13] == ":"
        and text[16] == ":"
        and (text[10] == "T" or text[10] == " ")
        and (
            size == 26
            or (size == 27 and text[26] == "Z")
            or (size == 32 and text[29] == ":" and (text[26] == "+" or text[26] == "-"))
        )
    ):  # microseconds
        try:
            return _datetime_fromisoformat(text)
        except ValueError:
            return None
    return _datetime_from_text_by_pattern(text)


def _datetime_from_text_by_pattern(text: str) -> dt.datetime | None:
    if len(text) > 40 or not _DATETIME_RE.fullmatch(text):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None


def to_date(value: object, zone: ZoneSource) -> dt.date | None:
    """The calendar date of a date, a datetime (aware ones in the rule's zone) or an ISO string."""
    if isinstance(value, str):
        parsed: dt.date | None = date_from_text(value)
        if parsed is not None:
            return parsed
        value = datetime_from_text(value)
    if isinstance(value, dt.datetime):
        return in_zone(value, zone).date()
    if isinstance(value, dt.date):
        return value
    return None


def in_zone(value: dt.datetime, zone: ZoneSource) -> dt.datetime:
    """An aware datetime converted to the rule's zone; a naive one (taken as local) unchanged."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value
    try:
        return value.astimezone(zone.get())
    except (OverflowError, ValueError):  # year 1 or 9999 pushed past the calendar's ends
        return value


def to_date_or_datetime(value: object) -> dt.date | dt.datetime | None:
    """A date or a datetime from a date, a datetime or an ISO string; None otherwise."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return date_from_text(value) or datetime_from_text(value)
    return None


def is_aware(value: dt.datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


# --- modes: how to compare with one expected value -----------------------------------------------


class Mode:
    """How actual values are compared with one expected value; chosen by :func:`mode_for`.

    ``pair(actual, zone)`` returns ``(actual', expected')`` of one comparable kind, or None when the
    actual value cannot be compared (then ``why_not(actual)`` says why, in plain English).
    """

    __slots__ = ("expected", "kind", "orderable")

    def __init__(self, kind: str, expected: Any, orderable: bool) -> None:
        self.kind = kind
        self.expected = expected
        self.orderable = orderable

    def pair(self, actual: object, zone: ZoneSource) -> tuple[Any, Any] | None:
        raise NotImplementedError

    def why_not(self, actual: object) -> str:
        raise NotImplementedError


class NumberMode(Mode):
    """The expected value is a number or a numeric string: both sides compare as numbers."""

    __slots__ = ()

    def __init__(self, expected: int | float | decimal.Decimal) -> None:
        super().__init__("number", expected, orderable=True)

    def pair(self, actual: object, zone: ZoneSource) -> tuple[Any, Any] | None:
        number = to_number(actual)
        return None if number is None else (number, self.expected)

    def why_not(self, actual: object) -> str:
        if is_number(actual):
            return f"{show(actual)} is not a finite number"
        return f"{show(actual)} is not a number"


class TextMode(Mode):
    """The expected value is other text: compare as text (dates and datetimes as their ISO text)."""

    __slots__ = ()

    def __init__(self, expected: str) -> None:
        super().__init__("text", expected, orderable=True)

    def pair(self, actual: object, zone: ZoneSource) -> tuple[Any, Any] | None:
        if isinstance(actual, str):
            return (str(actual), self.expected)
        if isinstance(actual, dt.date):
            return (actual.isoformat(), self.expected)
        return None

    def why_not(self, actual: object) -> str:
        return f"{show(actual)} is not text"


class DateMode(Mode):
    """The expected value is a date: compare calendar dates (datetimes by their date)."""

    __slots__ = ()

    def __init__(self, expected: dt.date) -> None:
        super().__init__("date", expected, orderable=True)

    def pair(self, actual: object, zone: ZoneSource) -> tuple[Any, Any] | None:
        value = to_date(actual, zone)
        return None if value is None else (value, self.expected)

    def why_not(self, actual: object) -> str:
        return f"{show(actual)} is not a date (YYYY-MM-DD)"


class DateTimeMode(Mode):
    """The expected value is a date and time.

    A date on either side compares by date; a naive datetime is taken to be in the rule's zone when
    the other side is aware (the zone is only looked up then).
    """

    __slots__ = ()

    def __init__(self, expected: dt.datetime) -> None:
        super().__init__("datetime", expected, orderable=True)

    def pair(self, actual: object, zone: ZoneSource) -> tuple[Any, Any] | None:
        value = to_date_or_datetime(actual)
        if value is None:
            return None
        expected: dt.datetime = self.expected
        if not isinstance(value, dt.datetime):
            return (value, to_date(expected, zone))
        actual_aware, expected_aware = is_aware(value), is_aware(expected)
        if actual_aware and not expected_aware:
            return (value, expected.replace(tzinfo=zone.get()))
        if expected_aware and not actual_aware:
            return (value.replace(tzinfo=zone.get()), expected)
        return (value, expected)

    def why_not(self, actual: object) -> str:
        return f"{show(actual)} is not a date and time"


class ExactMode(Mode):
    """true, false, null or (defensively) a list or object: equal only to the same JSON value."""

    __slots__ = ()

    def __init__(self, expected: Any) -> None:
        super().__init__("exact", expected, orderable=False)

    def pair(self, actual: object, zone: ZoneSource) -> tuple[Any, Any] | None:
        return (actual, self.expected) if json_equal(actual, self.expected) else None

    def why_not(self, actual: object) -> str:
        return f"{show(self.expected)} cannot be compared by order"


class InvalidMode(Mode):
    """An expected value nothing compares with (a non-finite number written into stored JSON)."""

    __slots__ = ()

    def __init__(self, expected: Any) -> None:
        super().__init__("invalid", expected, orderable=False)

    def pair(self, actual: object, zone: ZoneSource) -> tuple[Any, Any] | None:
        return None

    def why_not(self, actual: object) -> str:
        return f"the expected value {show(self.expected)} is not a finite number"


def mode_for(expected: object) -> Mode:
    """Choose the comparison from the expected value's type (see docs/conditions.md, Coercions)."""
    if expected is None or isinstance(expected, bool):
        return ExactMode(expected)
    if is_number(expected):
        number = to_number(expected)
        return InvalidMode(expected) if number is None else NumberMode(number)
    if isinstance(expected, dt.datetime):
        return DateTimeMode(expected)
    if isinstance(expected, dt.date):
        return DateMode(expected)
    if isinstance(expected, str):
        number = number_from_text(expected)
        if number is not None:
            return NumberMode(number)
        date = date_from_text(expected)
        if date is not None:
            return DateMode(date)
        moment = datetime_from_text(expected)
        if moment is not None:
            return DateTimeMode(moment)
        return TextMode(str(expected))
    return ExactMode(expected)


def json_equal(left: object, right: object) -> bool:
    """Equality of JSON values where true is not 1 and 1 is 1.0."""
    if left is None or right is None:
        return left is right
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if is_number(left) and is_number(right):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    return type(left) is type(right) and left == right


# --- display -------------------------------------------------------------------------------------

MAX_SHOWN: Final = 80
# Python refuses to turn an int of more than 4300 digits into text (ValueError, see
# sys.get_int_max_str_digits). JSON parsing refuses such numbers, but a context built in Python can
# hold one; it is shown by its size instead. 14,000 bits is about 4,200 digits.
MAX_SHOWN_INT_BITS: Final = 14_000


def int_text(value: int) -> str:
    """``str(value)``, or ``a 5001-digit number`` for an int too large to convert."""
    if value.bit_length() <= MAX_SHOWN_INT_BITS:
        return str(value)
    return f"a {math.floor(math.log10(abs(value))) + 1}-digit number"


def show(value: object, limit: int = MAX_SHOWN) -> str:
    """A short, plain rendering for reasons: 'closed', 5, null, true, ['a', 'b'], 2025-12-01."""
    cls = value.__class__
    quick = cls is float or (cls is str and len(value) < limit)  # type: ignore[arg-type]
    text = repr(value) if quick else _show(value, 0)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: object, depth: int) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is MISSING:
        return "missing"
    if isinstance(value, str):
        return repr(value[: MAX_SHOWN + 1])
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return int_text(value)
    if isinstance(value, float | decimal.Decimal):
        return str(value)
    if depth > 3:
        return "..."
    if isinstance(value, list | tuple | set | frozenset):
        items = [_show(item, depth + 1) for item in list(value)[:10]]
        more = ", ..." if len(value) > 10 else ""
        return f"[{', '.join(items)}{more}]"
    if isinstance(value, Mapping):
        pairs = [f"{_show(key, depth + 1)}: {_show(item, depth + 1)}" for key, item in list(value.items())[:10]]
        more = ", ..." if len(value) > 10 else ""
        return f"{{{', '.join(pairs)}{more}}}"
    return repr(value)[: MAX_SHOWN + 1]


MAX_JSON_DEPTH: Final = 64


def json_safe(value: object, depth: int = 0) -> Any:
    """A JSON-serialisable copy: dates as ISO strings, tuples as lists, nan/inf as strings."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= MAX_SHOWN_INT_BITS else int_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is MISSING:
        return None
    if depth >= MAX_JSON_DEPTH:
        return str(value)[:1000]
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        return {str(key): json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)
