"""The API's JSON parser: DRF's, refusing what the databases cannot store."""

from __future__ import annotations

import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32
# Integers beyond 64 bits overflow float conversions and database integers downstream.
MAX_INTEGER = 2**63 - 1


def json_problem(data: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``data`` cannot be stored as JSON in PostgreSQL and SQLite, or None when it can.

    Refused: NUL characters and lone surrogates in strings or keys, non-finite numbers (1e400
    parses as infinity), integers beyond 64 bits, and nesting deeper than ``max_depth``.
    Iterative, so depth cannot crash it.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return f"JSON nested deeper than {max_depth} levels."
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return problem
        elif isinstance(value, float) and not math.isfinite(value):
            return "Numbers must be finite."
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            return f"Whole numbers must be between -{MAX_INTEGER} and {MAX_INTEGER}."
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    return problem
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


def text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "Text may not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (no lone surrogates)."
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from error
        problem = json_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
