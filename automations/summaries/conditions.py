"""Conditions in words: ``store_status = active`` -> ``store is active``, groups as "either … or …".

Every phrase is built with a ``negated`` flag so ``{"not": …}`` reads as English ("store is not
active", "neither A nor B") instead of "not (…)". Incomplete conditions (while the builder is being
typed into) are left out rather than shown half-made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automations.choices import ConditionGroup, ConditionOperator
from automations.kinds.operators import OPERATORS, LeafWords
from automations.summaries.text import (
    MONTHS,
    NUMERIC_STRING_RE,
    TIME_RE,
    WEEKDAY_NAMES,
    format_date,
    format_datetime,
    is_number,
    is_plain_word_value,
    join_words,
    parse_date,
    parse_datetime,
    quote,
    words,
)
from governance.common.words import format_number

MAX_DEPTH = 8
MAX_LISTED_VALUES = 5
STATUS_SUFFIX = "_status"
# Built-in context values (docs/conditions.md) read better with an article.
BUILT_IN_SUBJECTS = {"date": "the date", "now": "the time", "time": "the time of day", "weekday": "the weekday"}
MONTH_WORDS = {name.lower(): name for name in MONTHS}


# --- values --------------------------------------------------------------------------------------


def value_words(value: object) -> str:
    """A condition value for people: numbers formatted, enum-like words plain, dates written out,
    other text quoted as written."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if isinstance(value, str):
        if value == "":
            return "empty"
        if NUMERIC_STRING_RE.match(value):
            return format_number(float(value) if "." in value else int(value))
        lowered = value.lower()
        if lowered in WEEKDAY_NAMES:
            return WEEKDAY_NAMES[lowered]
        if lowered in MONTH_WORDS:
            return MONTH_WORDS[lowered]
        if TIME_RE.match(value):
            return value
        date = parse_date(value)
        if date is not None:
            return format_date(date)
        moment = parse_datetime(value)
        if moment is not None:
            return format_datetime(moment)
        if is_plain_word_value(value):
            return words(value)
        return quote(value)
    return "a value"


def _is_temporal(value: object) -> bool:
    return isinstance(value, str) and (
        parse_date(value) is not None or parse_datetime(value) is not None or bool(TIME_RE.match(value))
    )


def _is_numeric(value: object) -> bool:
    return is_number(value) or (isinstance(value, str) and bool(NUMERIC_STRING_RE.match(value)))


# --- subjects ------------------------------------------------------------------------------------


def subject_words(field: str, operator: str) -> str:
    """``store_status`` -> ``store`` (for "is" comparisons), ``date`` -> ``the date``,
    ``customer.total_spent`` -> ``customer total spent``."""
    if field in BUILT_IN_SUBJECTS:
        return BUILT_IN_SUBJECTS[field]
    kind = OPERATORS.get(operator)
    equality = kind is not None and kind.status_subject
    if equality and field.endswith(STATUS_SUFFIX) and len(field) > len(STATUS_SUFFIX):
        stripped = field[: -len(STATUS_SUFFIX)]
        if stripped.strip("_.-"):
            return words(stripped)
    return words(field)


def _boolean_phrase(field: str, expected: bool) -> str | None:
    """``customer.is_vip = true`` -> ``customer is vip``; ``store.has_logo = false`` -> ``store does
    not have logo``. None when the field has no is_/has_ prefix to lean on."""
    head, _, last = field.rpartition(".")
    for prefix, yes, no in (("is_", "is", "is not"), ("has_", "has", "does not have")):
        if last.startswith(prefix) and len(last) > len(prefix) and last[len(prefix) :].strip("_-"):
            thing = words(last[len(prefix) :])
            if head:
                return f"{words(head)} {yes if expected else no} {thing}"
            return (
                f"{thing} is {'present' if expected else 'not present'}"
                if prefix == "has_"
                else (f"{thing} is {'true' if expected else 'false'}")
            )
    return None


# --- leaves --------------------------------------------------------------------------------------


def _ordering(operator: str, value: object, negated: bool) -> str:
    if _is_numeric(value):
        verbs = {"<": "below", ">": "above", "<=": "at most", ">=": "at least"}
    elif _is_temporal(value):
        at = "at" if isinstance(value, str) and TIME_RE.match(value) else "on"
        verbs = {"<": "before", ">": "after", "<=": f"{at} or before", ">=": f"{at} or after"}
    else:
        verbs = {
            "<": "alphabetically before",
            ">": "alphabetically after",
            "<=": "alphabetically at or before",
            ">=": "alphabetically at or after",
        }
    return f"is {'not ' if negated else ''}{verbs[operator]} {value_words(value)}"


def _equality(field: str, subject: str, value: object, equal: bool) -> str:
    if isinstance(value, bool):
        phrase = _boolean_phrase(field, value if equal else not value)
        if phrase is not None:
            return phrase
    if value is None or value == "":
        return f"{subject} is {'not set' if equal else 'set'}"
    return f"{subject} is {'' if equal else 'not '}{value_words(value)}"


def _listed(values: list[Any]) -> list[str]:
    shown = [value_words(value) for value in values[:MAX_LISTED_VALUES]]
    hidden = len(values) - len(shown)
    if hidden:
        shown.append(f"{hidden} other {'value' if hidden == 1 else 'values'}")
    return shown


def _membership(subject: str, values: list[Any], inside: bool) -> str:
    shown = _listed(values)
    if len(shown) == 1:
        return f"{subject} is {'' if inside else 'not '}{shown[0]}"
    if inside:
        return f"{subject} is {join_words(shown, 'or')}"
    if len(shown) == 2:
        return f"{subject} is neither {shown[0]} nor {shown[1]}"
    return f"{subject} is none of {join_words(shown, 'or')}"


def leaf_phrase(condition: dict[str, Any], negated: bool = False) -> str | None:
    """One ``{"type", "operator", "value"}`` condition in words, or None when it is incomplete."""
    field, operator = condition.get("type"), condition.get("operator")
    if not isinstance(field, str) or not field or not isinstance(operator, str):
        return None
    kind = OPERATORS.get(operator)
    if kind is None:
        return None
    leaf = LeafWords(field, subject_words(field, operator), condition.get("value"), "value" in condition, negated)
    if kind.phrase is None:
        return _labelled(kind.label, leaf)
    return kind.phrase(leaf)


def _labelled(label: str, leaf: LeafWords) -> str | None:
    """An operator without its own phrase: "sku starts with AB", "it is not the case that sku …"."""
    if not leaf.has_value:
        return None
    text = f"{leaf.subject} {label} {value_words(leaf.value)}"
    return f"it is not the case that {text}" if leaf.negated else text


# --- the built-in operators' phrases (automations.builtin_kinds.operators) ------------------------


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool) or is_number(value)


def phrase_equals(leaf: LeafWords) -> str | None:
    if not leaf.has_value or not _scalar(leaf.value):
        return None
    return _equality(leaf.field, leaf.subject, leaf.value, not leaf.negated)


def phrase_not_equals(leaf: LeafWords) -> str | None:
    if not leaf.has_value or not _scalar(leaf.value):
        return None
    return _equality(leaf.field, leaf.subject, leaf.value, leaf.negated)


def phrase_ordering(operator: str) -> Callable[[LeafWords], str | None]:
    def phrase(leaf: LeafWords) -> str | None:
        value = leaf.value
        if not (is_number(value) or (isinstance(value, str) and value)):
            return None
        return f"{leaf.subject} {_ordering(operator, value, leaf.negated)}"

    return phrase


def _contains(leaf: LeafWords, contains: bool) -> str | None:
    value = leaf.value
    if value is None or value == "" or not (isinstance(value, str | bool) or is_number(value)):
        return None
    return f"{leaf.subject} {'contains' if contains else 'does not contain'} {value_words(value)}"


def phrase_contains(leaf: LeafWords) -> str | None:
    return _contains(leaf, not leaf.negated)


def phrase_not_contains(leaf: LeafWords) -> str | None:
    return _contains(leaf, leaf.negated)


def phrase_in(leaf: LeafWords) -> str | None:
    if not isinstance(leaf.value, list) or not leaf.value:
        return None
    return _membership(leaf.subject, leaf.value, not leaf.negated)


def phrase_not_in(leaf: LeafWords) -> str | None:
    if not isinstance(leaf.value, list) or not leaf.value:
        return None
    return _membership(leaf.subject, leaf.value, leaf.negated)


def phrase_between(leaf: LeafWords) -> str | None:
    value = leaf.value
    if not isinstance(value, list) or len(value) != 2:
        return None
    low, high = value_words(value[0]), value_words(value[1])
    return f"{leaf.subject} is {'not ' if leaf.negated else ''}between {low} and {high}"


def phrase_exists(leaf: LeafWords) -> str | None:
    present = (leaf.value is not False) != leaf.negated
    return f"{leaf.subject} is {'set' if present else 'missing'}"


def phrase_matches(leaf: LeafWords) -> str | None:
    value = leaf.value
    if not isinstance(value, str) or not value:
        return None
    return f"{leaf.subject} {'does not match' if leaf.negated else 'matches'} the pattern {quote(value)}"


# --- groups --------------------------------------------------------------------------------------


def _group_key(condition: dict[str, Any]) -> str | None:
    keys = [key for key in ConditionGroup.values if key in condition]
    return keys[0] if len(keys) == 1 and len(condition) == 1 else None


@dataclass(frozen=True)
class Phrase:
    text: str
    compound: bool = False  # an "either …"/"both …" group, which needs commas around it in a list


def join_phrases(phrases: list[Phrase], conjunction: str = "and") -> str:
    """Join phrases; once a group phrase is followed by another, use serial commas so the group's own
    "or"/"and" can't be misread ("either A or B, and C")."""
    texts = [phrase.text for phrase in phrases]
    if len(texts) >= 2 and any(phrase.compound for phrase in phrases[:-1]):
        return f"{', '.join(texts[:-1])}, {conjunction} {texts[-1]}"
    return join_words(texts, conjunction)


def condition_phrase(condition: object, negated: bool = False, depth: int = 0) -> Phrase | None:
    """A condition or group in words; None when nothing complete is in it."""
    if not isinstance(condition, dict) or depth > MAX_DEPTH:
        return None
    key = _group_key(condition)
    if key is None:
        if any(group in condition for group in ConditionGroup.values):
            return None  # a malformed group: say nothing rather than something wrong
        text = leaf_phrase(condition, negated)
        return Phrase(text) if text else None
    inner = condition[key]
    if key == ConditionGroup.NOT:
        return condition_phrase(inner, not negated, depth + 1)
    if not isinstance(inner, list):
        return None
    members = _members(key, inner, depth + 1)
    if not members:
        return None
    if len(members) == 1:
        # A one-member group is just its member; negate it afresh so "not" reads naturally.
        return condition_phrase(members[0][0], negated, depth + 1)
    return Phrase(_group_words(key, [phrase for _, phrase in members], negated), compound=True)


def _members(key: str, items: list[Any], depth: int) -> list[tuple[Any, Phrase]]:
    """A group's complete members, with same-kind groups inside spliced in: any(any(a, b), c) is any(a, b, c)."""
    members: list[tuple[Any, Phrase]] = []
    for item in items:
        if isinstance(item, dict) and _group_key(item) == key and isinstance(item[key], list) and depth < MAX_DEPTH:
            members.extend(_members(key, item[key], depth + 1))
        elif (phrase := condition_phrase(item, False, depth)) is not None:
            members.append((item, phrase))
    return members


def _group_words(key: str, phrases: list[Phrase], negated: bool) -> str:
    texts = [phrase.text for phrase in phrases]
    if key == ConditionGroup.ANY:
        if negated:
            if len(texts) == 2:
                separator = ", nor " if phrases[0].compound else " nor "
                return f"neither {texts[0]}{separator}{texts[1]}"
            return f"not one of these holds: {join_phrases(phrases, 'or')}"
        return f"either {join_phrases(phrases, 'or')}"
    if negated:
        if len(texts) == 2:
            return f"not both {join_phrases(phrases)}"
        return f"not all of these hold: {join_phrases(phrases)}"
    return f"both {join_phrases(phrases)}" if len(texts) == 2 else f"all of {join_phrases(phrases)}"


def describe_conditions(conditions: object, leading: tuple[str, ...] = ()) -> str:
    """The top-level conditions (all must hold) in words: single checks first, then groups, so the
    groups' own "or" stays unambiguous. Incomplete conditions are left out; "" when none are left."""
    phrases = [Phrase(text) for text in leading]
    if isinstance(conditions, list):
        phrases.extend(phrase for condition in conditions if (phrase := condition_phrase(condition)))
    ordered = [phrase for phrase in phrases if not phrase.compound] + [phrase for phrase in phrases if phrase.compound]
    return join_phrases(ordered)


def store_state(condition: object) -> str | None:
    """``active`` for a top-level ``store_status = active``, so the summary can say "in an active store"."""
    if not isinstance(condition, dict) or condition.get("operator") != ConditionOperator.EQ:
        return None
    if condition.get("type") not in ("store_status", "store.status"):
        return None
    value = condition.get("value")
    return words(value) if isinstance(value, str) and is_plain_word_value(value) else None
