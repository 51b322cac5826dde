"""What the databases can store: one check shared by the API's parser, the services' validators and the portal.

PostgreSQL refuses NUL characters in text and JSON; lone surrogates cannot be encoded as UTF-8; JSON has
no NaN or Infinity (and ``1e400`` reads as infinity); integer columns and float conversions end at 64
bits. SQLite stores some of these and PostgreSQL none, so they are refused everywhere, by these functions.
Pure: no ORM, no DRF.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_JSON_DEPTH = 32
# Integers beyond 64 bits overflow float conversions and database integers downstream.
MAX_INTEGER = 2**63 - 1
# The largest primary key of a BigAutoField: a larger id in a URL or form is "no such object".
MAX_ID = MAX_INTEGER

NUL_MESSAGE = "Text may not contain NUL characters."
SURROGATE_MESSAGE = "Text must be valid Unicode (no lone surrogates)."
NON_FINITE_MESSAGE = "Numbers must be finite (NaN, Infinity and overflowing values such as 1e400 are refused)."
INTEGER_RANGE_MESSAGE = f"Whole numbers must be between -{MAX_INTEGER} and {MAX_INTEGER}."

ID_RE = re.compile(r"[0-9]{1,19}")


def text_problem(value: str) -> str | None:
    """Why the text ``value`` cannot be stored (NUL, lone surrogate), or None when it can."""
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def json_problem_at(data: Any, path: str = "", max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """``(path, why)`` for the first value in ``data`` the databases cannot store, or None when all can.

    Refused: NUL characters and lone surrogates in strings or keys, non-finite numbers, integers beyond
    64 bits, and nesting deeper than ``max_depth``. The path extends ``path`` as the validators write
    it (``conditions[0].value``); a bad key is reported at its object. Iterative, so depth cannot crash it.
    """
    stack: list[tuple[Any, int, str]] = [(data, 0, path)]
    while stack:
        value, depth, at = stack.pop()
        if depth > max_depth:
            return at, f"JSON nested deeper than {max_depth} levels."
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return at, problem
        elif isinstance(value, float) and not math.isfinite(value):
            return at, NON_FINITE_MESSAGE
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            return at, INTEGER_RANGE_MESSAGE
        elif isinstance(value, dict):
            items = list(value.items())
            for key, _item in items:
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    return at, problem
            # Reversed, so the first problem in document order is found first.
            stack.extend((item, depth + 1, _join(at, str(key))) for key, item in reversed(items))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1, _join(at, index)) for index, item in reversed(list(enumerate(value))))
    return None


def json_problem(data: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``data`` cannot be stored as JSON in PostgreSQL and SQLite, or None when it can."""
    found = json_problem_at(data, max_depth=max_depth)
    return found[1] if found else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number. {NON_FINITE_MESSAGE}")


def loads_json(text: str | bytes) -> Any:
    """Parse JSON typed by a user or sent to the API; raise ValueError saying why it cannot be stored.

    Strict: ``NaN`` and ``Infinity`` are not JSON, and what parses is then checked by ``json_problem``.
    """
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from error
    problem = json_problem(data)
    if problem:
        raise ValueError(problem)
    return data


def database_id(text: str) -> int | None:
    """The id written in ``text`` (1-19 ASCII digits, at most ``MAX_ID``), or None: it names no row."""
    if not isinstance(text, str) or not ID_RE.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_ID else None
