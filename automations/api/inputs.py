"""Reading request bodies and query parameters for the rules API; every problem is a 400 naming the field."""

from __future__ import annotations

from typing import Any, overload

from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from automations.services import CREATE_DEFAULTS, EDITABLE_FIELDS
from automations.validators import validate_rule_definition
from governance.common.api_errors import nest_error_paths

# Fields the API shows but the system owns: ignored in a body, so a client may send back what it read.
READ_ONLY_KEYS = frozenset(
    {
        "id",
        "tenant_id",
        "last_triggered_at",
        "last_executed_at",
        "next_run_at",
        "execution_count",
        "success_count",
        "failure_count",
        "recorded_only_count",
        "average_execution_time_ms",
        "consecutive_failures",
        "paused_by_breaker",
        "paused_at",
        "paused_reason",
        "version",
        "created_at",
        "updated_at",
        "created_by_id",
    }
)
MAX_OFFSET = 2**31 - 1


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    return data


def rule_fields_from_body(data: Any) -> dict[str, Any]:
    """The editable rule fields in a body; unknown keys are a 400 naming each of them."""
    body = require_object(data)
    unknown = sorted(set(body) - READ_ONLY_KEYS - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({key: ["Not a field you can set on a rule."] for key in unknown})
    return {key: value for key, value in body.items() if key in EDITABLE_FIELDS}


def validate_rule_body(definition: dict[str, Any]) -> None:
    """Raise 400 with nested field paths when the whole definition is invalid."""
    errors = validate_rule_definition(definition)
    if errors:
        raise ValidationError(nest_error_paths(errors))


def create_definition(fields: dict[str, Any]) -> dict[str, Any]:
    return {**CREATE_DEFAULTS, **fields}


def read_context(data: Any, key: str = "context") -> dict[str, Any]:
    """The ``context`` object of a body ({} when absent)."""
    if data in (None, ""):
        return {}
    body = require_object(data)
    context = body.get(key, {})
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise ValidationError({key: ["Must be a JSON object."]})
    return context


def read_bool(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError({key: ["Must be true or false."]})
    return value


@overload
def read_int(params: QueryDict, key: str, default: int, minimum: int, maximum: int) -> int: ...
@overload
def read_int(params: QueryDict, key: str, default: int | None, minimum: int, maximum: int) -> int | None: ...
def read_int(params: QueryDict, key: str, default: int | None, minimum: int, maximum: int) -> int | None:
    """An integer query parameter; values above ``maximum`` are clamped to it."""
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as error:
        raise ValidationError({key: ["Must be a whole number."]}) from error
    if value < minimum:
        raise ValidationError({key: [f"Must be at least {minimum}."]})
    return min(value, maximum)


@overload
def read_limit_offset(params: QueryDict, default_limit: int, max_limit: int) -> tuple[int, int]: ...
@overload
def read_limit_offset(params: QueryDict, default_limit: int | None, max_limit: int) -> tuple[int | None, int]: ...
def read_limit_offset(params: QueryDict, default_limit: int | None, max_limit: int) -> tuple[int | None, int]:
    limit = read_int(params, "limit", default_limit, minimum=1, maximum=max_limit)
    offset = read_int(params, "offset", 0, minimum=0, maximum=MAX_OFFSET) or 0
    return limit, offset
