"""Small template helpers for the portal: errors beside a field, percentages and milliseconds."""

from __future__ import annotations

from typing import Any

from django import template

from automations.builder_errors import inner_error_text
from automations.builder_state import action_input_name
from automations.models import success_rate_health
from config.words import plural as plural_words

register = template.Library()


def errors_at(errors: dict[str, list[str]] | None, path: str, exact: bool = False) -> list[str]:
    """Messages for ``path`` and anything inside it (``action_config.recipients[0]`` under ``...recipients``),
    as sentences; an inner path shows in words ("Item 1: …"), never as the validator's path."""
    if not errors:
        return []
    found: list[str] = []
    for key, messages in errors.items():
        if key == path or (not exact and key.startswith((f"{path}.", f"{path}["))):
            inner = key[len(path) :].lstrip(".")
            found.extend(inner_error_text(inner, message) for message in messages)
    return found


@register.inclusion_tag("automations/partials/_field_errors.html")
def field_errors(
    errors: dict[str, list[str]] | None, path: str, field_id: str = "", exact: bool = False
) -> dict[str, Any]:
    """Errors beside one input; ``exact`` for a section's own errors, whose inner paths show at their inputs."""
    return {"messages": errors_at(errors, path, exact), "field_id": field_id or path}


@register.simple_tag
def has_errors(errors: dict[str, list[str]] | None, path: str) -> bool:
    return bool(errors_at(errors, path))


@register.filter
def plural(count: int | float | None, noun: str) -> str:
    """``{{ n|plural:"execution" }}`` -> "1 execution", "2 executions"; "child,children" for an irregular plural."""
    singular, _, plural_form = noun.partition(",")
    return plural_words(count or 0, singular, plural_form or None)


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.875 -> "87.5%"; None (no executions) -> "—", never NaN."""
    if value is None or value != value:
        return "—"
    return f"{value * 100:.{digits}f}%"


RATE_COLOURS = {"healthy": "emerald", "degraded": "gold", "poor": "crimson", "": "slate"}


@register.filter
def rate_tone(rate: float | None) -> str:
    """The colour class of a success rate: emerald only when healthy (``success_rate_health``)."""
    return RATE_COLOURS[success_rate_health(rate)]


@register.filter
def ms(value: float | None) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:.0f}ms"


@register.filter
def get_item(mapping: dict[str, Any] | None, key: str) -> Any:
    if not mapping:
        return ""
    return mapping.get(key, "")


@register.filter
def contains(values: Any, item: str) -> bool:
    return bool(values) and item in values


@register.simple_tag
def action_input(action_type: str, key: str) -> str:
    return action_input_name(action_type, key)
