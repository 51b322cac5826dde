"""Small phrasing helpers shared by the summaries and the recommendations: lists, numbers, dates,
identifiers and quoted user text. Pure functions, no Django."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import TypeGuard

from governance.common.words import plural

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAY_NAMES = {
    "monday": "Monday",
    "tuesday": "Tuesday",
    "wednesday": "Wednesday",
    "thursday": "Thursday",
    "friday": "Friday",
    "saturday": "Saturday",
    "sunday": "Sunday",
}

# Quoted user text longer than this is cut with an ellipsis so one long message can't swamp a sentence.
MAX_QUOTED_LENGTH = 200

IDENTIFIER_LIKE_RE = re.compile(r"^[A-Za-z0-9]+(?:[_.:\-]+[A-Za-z0-9]+)*$")
WORD_SEPARATORS_RE = re.compile(r"[_.:\-\s]+")
NUMERIC_STRING_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?$")
WHITESPACE_RUN_RE = re.compile(r"\s*[\r\n\t]+\s*")


def is_number(value: object) -> TypeGuard[int | float]:
    """A finite JSON number; booleans are not numbers here."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def capitalize(text: str) -> str:
    """Upper-case the first character only (``str.capitalize`` would lower-case the rest)."""
    return text[:1].upper() + text[1:]


def join_words(items: Sequence[str], conjunction: str = "and") -> str:
    """``a``; ``a and b``; ``a, b and c`` (no serial comma)."""
    items = [item for item in items if item]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def article(words: str) -> str:
    """``a`` or ``an`` for the phrase, by its first letter (with the common exceptions)."""
    lowered = words.lower()
    if lowered.startswith(("uni", "use", "usu", "eu", "one")):
        return "a"
    if lowered.startswith(("hour", "honest")):
        return "an"
    return "an" if lowered[:1] in "aeiou" and lowered else "a"


def with_article(words: str) -> str:
    return f"{article(words)} {words}"


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def format_duration_minutes(minutes: int | float) -> str:
    """15 -> ``15 minutes``; 60 -> ``1 hour``; 90 -> ``1 hour and 30 minutes``; 2880 -> ``2 days``."""
    if not is_number(minutes) or minutes < 0:
        return ""
    if not float(minutes).is_integer():
        return plural(minutes, "minute")
    minutes = int(minutes)
    if minutes >= 1440 and minutes % 1440 == 0:
        return plural(minutes // 1440, "day")
    if minutes >= 60:
        hours, rest = divmod(minutes, 60)
        if rest == 0:
            return plural(hours, "hour")
        return f"{plural(hours, 'hour')} and {plural(rest, 'minute')}"
    return plural(minutes, "minute")


def format_duration_hours(hours: int | float) -> str:
    """24 -> ``24 hours``; 48 -> ``2 days``; 0.5 -> ``30 minutes``; 1.5 -> ``1.5 hours``."""
    if not is_number(hours) or hours <= 0:
        return ""
    if hours < 1 and float(hours * 60).is_integer():
        return plural(int(hours * 60), "minute")
    if float(hours).is_integer() and hours >= 48 and hours % 24 == 0:
        return plural(int(hours // 24), "day")
    return plural(hours, "hour")


def format_date(value: dt.date) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def format_month_day(month: int, day: int) -> str:
    return f"{day} {MONTHS[month - 1]}"


def parse_date(value: object) -> dt.date | None:
    if not isinstance(value, str) or not DATE_RE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def parse_datetime(value: object) -> dt.datetime | None:
    """An ISO date and time with a ``T`` or space between them; plain dates are not datetimes."""
    if not isinstance(value, str) or len(value) < 16 or value[10:11] not in ("T", " "):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def format_datetime(value: dt.datetime) -> str:
    """``1 December 2026 at 09:00 UTC`` or ``… at 09:00 (UTC+01:00)``; naive times get no zone."""
    text = f"{format_date(value.date())} at {value:%H:%M}"
    offset = value.utcoffset()
    if offset is None:
        return text
    if offset == dt.timedelta(0):
        return f"{text} UTC"
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{text} (UTC{sign}{hours:02d}:{minutes:02d})"


def format_timezone(name: object) -> str:
    """An IANA name as people write it: ``America/New_York`` -> ``America/New York``."""
    if not isinstance(name, str) or not name:
        return ""
    return name.replace("_", " ")


def quote(text: str) -> str:
    """User text as written, in single quotes; line breaks become spaces, outer spaces go and very long
    text is cut."""
    flat = WHITESPACE_RUN_RE.sub(" ", text).strip()
    if len(flat) > MAX_QUOTED_LENGTH:
        flat = flat[: MAX_QUOTED_LENGTH - 1].rstrip() + "…"
    return f"'{flat}'"


def words(identifier: str) -> str:
    """A machine name in words: ``product_count`` -> ``product count``, ``customer.total_spent`` ->
    ``customer total spent``. Words in capitals (``SKU``) keep them; others are lower-cased. An
    identifier with no letters or digits at all, or starting with the word "none" or "null", is quoted instead."""
    parts = [part for part in WORD_SEPARATORS_RE.split(identifier) if part]
    text = " ".join(part if part.isupper() and len(part) > 1 else part.lower() for part in parts)
    if not text or text.split()[0] in ("none", "null"):
        # Nothing left, or a name that would read as a missing value at the start of a sentence.
        return quote(identifier)
    return text


def name_or_quote(value: str) -> str:
    """An id-like value (``seasonal_promo``) in words; anything else (``Winter Sale!``) quoted as written."""
    if IDENTIFIER_LIKE_RE.match(value):
        return words(value)
    return quote(value)


def is_plain_word_value(value: str) -> bool:
    """A lower-case enum-like value such as ``active`` or ``on_hold``, shown in words without quotes."""
    return bool(IDENTIFIER_LIKE_RE.match(value)) and value == value.lower() and value[:1].isalpha()
