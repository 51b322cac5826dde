"""Numbers and counted nouns in words: the one pluralisation helper of every page, message and summary.

Pure functions, no Django; in governance.common so every app (governance included) can use them.
"""

from __future__ import annotations

import math


def format_number(value: int | float) -> str:
    """A number as people read it: ``3``, ``1,000``, ``2.5``, ``0.025``, ``3,599.9414``.

    Whole floats lose their ``.0``; thousands get commas; fractions keep at most 4 decimals (6
    significant digits below 1); numbers past a quadrillion are written like ``6.492e+16``.
    """
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= 1e15:
            return f"{value:.4g}"
        if value.is_integer():
            return f"{int(value):,}"
        if abs(value) >= 1:
            return f"{round(value, 4):,.4f}".rstrip("0").rstrip(".")
        return f"{value:.6g}"
    return f"{value:,}"


def plural(count: int | float, singular: str, plural_form: str | None = None) -> str:
    """``1 condition``, ``2 conditions``, ``1,000 entries`` (``plural_form`` when adding "s" is wrong)."""
    word = singular if not plural_suffix(count) else (plural_form or singular + "s")
    return f"{format_number(count)} {word}"


def plural_suffix(count: int | float) -> str:
    """ "" for exactly one, else "s": for text that spells its noun itself ("{v} visitor{s} a day")."""
    return "" if count == 1 else "s"
