"""The builder form: flat HTML fields <-> the rule body the services and validators take.

The page keeps everything as ``BuilderState`` (what the user typed, as strings), so a failed save
shows the form exactly as it was. ``rule_data_from_state`` turns it into the JSON body the API
takes; it only translates shapes (text to numbers, lists, JSON objects) and leaves every rule about
what is allowed to ``automations.validators``. Parse problems are reported with the same paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from automations.choices import (
    ActionType,
    TriggerType,
)
from automations.kinds.actions import ACTION_KINDS, get_action_kind
from automations.kinds.fields import FieldSpec
from automations.kinds.operators import LIST, OPERATORS, OPTIONAL, SCALAR
from automations.kinds.triggers import TRIGGER_KINDS, get_trigger_kind
from automations.validators import Errors

NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
INT_RE = re.compile(r"^-?\d+$")
CONDITION_FIELD_RE = re.compile(r"^cond-(\d+)-(type|operator|value|json)$")


TEXT_KEYS = (
    "name",
    "description",
    "category",
    "trigger_type",
    "action_type",
    "risk_level",
    "contact_cap",
    "when_capped",
    "assigned_council",
    "action_budget",
    "aa_max_budget",
    "aa_max_frequency_per_day",
)
BOOL_KEYS = ("enabled", "shadow_mode", "requires_approval", "aa_trusted_users_only", "aa_business_hours_only")


def trigger_input_names() -> list[str]:
    """The builder's trigger inputs: every trigger kind's fields."""
    return [kind.input_name(spec.key) for kind in TRIGGER_KINDS.values() for spec in kind.fields]


def shown(spec: FieldSpec, value_of: Callable[[str], Any]) -> bool:
    """Whether a field applies, given the other keys' values (``show_when``): the weekly schedule's day."""
    if spec.show_when is None:
        return True
    key, values = spec.show_when
    value = value_of(key)
    return (value if isinstance(value, str) else "" if value is None else _text(value)) in values


def action_fields(action_type: str) -> tuple[FieldSpec, ...]:
    """The builder inputs of an action type (its spec's fields; none for an unknown type)."""
    kind = get_action_kind(action_type)
    return kind.fields if kind is not None else ()


def action_input_name(action_type: str, key: str) -> str:
    return f"a_{action_type}__{key}"


@dataclass
class BuilderState:
    """Everything on the builder form, as typed."""

    values: dict[str, str] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)
    conditions: list[dict[str, str]] = field(default_factory=list)
    action: dict[str, Any] = field(default_factory=dict)  # input name -> str, or list[str] for multi

    def get(self, key: str) -> str:
        return self.values.get(key, "")


# --- data -> state -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _scalar_text(value: Any) -> str:
    """A condition value as typed: strings that would read back as something else are quoted."""
    if isinstance(value, str):
        if NUMBER_RE.match(value) or value in ("true", "false", "null") or value.startswith(("[", '"')):
            return json.dumps(value)
        return value
    if value is None:
        return "null"
    return _text(value)


def _condition_value_text(operator: str, value: Any) -> str:
    if isinstance(value, list):
        parts = [_scalar_text(item) for item in value]
        if any("," in part for part in parts):
            return json.dumps(value)
        return ", ".join(parts)
    return _scalar_text(value)


def state_from_data(data: dict[str, Any]) -> BuilderState:
    """The form as it shows an existing rule body (a saved rule or a recommendation's config)."""
    state = BuilderState()
    for key in ("name", "description", "category", "trigger_type", "action_type", "risk_level"):
        state.values[key] = _text(data.get(key))
    state.values["trigger_type"] = state.values["trigger_type"] or TriggerType.EVENT
    state.values["action_type"] = state.values["action_type"] or ActionType.SEND_NOTIFICATION
    state.values["risk_level"] = state.values["risk_level"] or "low"
    state.values["contact_cap"] = _text(data.get("contact_cap")) or "obey"
    state.values["when_capped"] = _text(data.get("when_capped")) or "skip"
    council = data.get("assigned_council_id") or data.get("assigned_council")
    state.values["assigned_council"] = _text(getattr(council, "pk", council))
    state.flags["enabled"] = bool(data.get("enabled", True))
    state.flags["requires_approval"] = bool(data.get("requires_approval", False))
    state.flags["shadow_mode"] = data.get("mode") == "shadow"

    trigger = data["trigger_config"] if isinstance(data.get("trigger_config"), dict) else {}
    # Every kind's inputs, not only the chosen one's: a new rule starts as an event rule whose
    # schedule panel is already filled in (state_for_new_rule).
    for kind in TRIGGER_KINDS.values():
        for spec in kind.fields:
            if spec.key in trigger and shown(spec, trigger.get):
                state.values[kind.input_name(spec.key)] = _text(trigger[spec.key])

    for condition in data.get("conditions") or []:
        if (
            isinstance(condition, dict)
            and {"type", "operator"} <= set(condition)
            and set(condition)
            <= {
                "type",
                "operator",
                "value",
            }
        ):
            operator = _text(condition.get("operator"))
            value = _condition_value_text(operator, condition["value"]) if "value" in condition else ""
            state.conditions.append({"type": _text(condition.get("type")), "operator": operator, "value": value})
        else:
            state.conditions.append({"json": json.dumps(condition, indent=2)})

    config = data["action_config"] if isinstance(data.get("action_config"), dict) else {}
    action_type = state.values["action_type"]
    for spec in action_fields(action_type):
        name = action_input_name(action_type, spec.key)
        if spec.key not in config:
            continue
        value = config[spec.key]
        if spec.kind == "multi":
            state.action[name] = [str(item) for item in value] if isinstance(value, list) else []
        elif spec.kind == "json":
            state.action[name] = json.dumps(value, indent=2)
        elif spec.kind == "bool":
            state.action[name] = "on" if value else ""
        else:
            state.action[name] = _text(value)
    if "budget" in config:
        state.values["action_budget"] = _text(config["budget"])

    rules = data["auto_approval_rules"] if isinstance(data.get("auto_approval_rules"), dict) else {}
    state.values["aa_max_budget"] = _text(rules.get("max_budget"))
    state.values["aa_max_frequency_per_day"] = _text(rules.get("max_frequency_per_day"))
    state.flags["aa_trusted_users_only"] = bool(rules.get("trusted_users_only"))
    state.flags["aa_business_hours_only"] = bool(rules.get("business_hours_only"))
    return state


def state_for_new_rule() -> BuilderState:
    return state_from_data({"enabled": True, "trigger_config": {"pattern": "daily", "timezone": "UTC"}})


# --- POST -> state -------------------------------------------------------------------------------


def state_from_post(post: QueryDict) -> BuilderState:
    """The form exactly as submitted."""
    state = BuilderState()
    for key in (*TEXT_KEYS, *trigger_input_names()):
        state.values[key] = post.get(key, "")
    for key in BOOL_KEYS:
        state.flags[key] = post.get(key) in ("on", "true", "1")
    rows: dict[int, dict[str, str]] = {}
    for name in post:
        match = CONDITION_FIELD_RE.match(name)
        if match:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = post.get(name, "")
    state.conditions = [rows[index] for index in sorted(rows)]
    for kind in ACTION_KINDS.values():
        action_type = kind.key
        for spec in kind.fields:
            name = action_input_name(action_type, spec.key)
            state.action[name] = post.getlist(name) if spec.kind == "multi" else post.get(name, "")
    return state


# --- state -> rule body --------------------------------------------------------------------------


def _number(text: str, integer: bool = False) -> Any:
    """A number from text; text that is not one is passed on so the validator names the problem.

    Whole numbers are read exactly, so one beyond 64 bits reaches the validator as itself; past
    Python's int() digit limit (4300) it reads as an infinite float, and ``1e400`` is one too: the
    validators refuse both with the API's messages (``governance.common.storable``).
    """
    text = text.strip()
    if INT_RE.match(text):
        try:
            return int(text)
        except ValueError:
            return float(text)
    if not integer and NUMBER_RE.match(text):
        return float(text)
    return text


def _put(target: dict[str, Any], key: str, text: str, kind: str) -> None:
    text = text.strip()
    if text == "":
        return
    target[key] = _number(text, integer=kind == "int") if kind in ("int", "number") else text


def _scalar(text: str) -> Any:
    text = text.strip()
    if NUMBER_RE.match(text):
        return _number(text)
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _condition_value(operator: str, text: str, path: str, errors: Errors) -> tuple[bool, Any]:
    """(present, value) for one condition row's value box."""
    stripped = text.strip()
    kind = OPERATORS.get(operator)
    shape = kind.value_shape if kind is not None else SCALAR
    if shape == OPTIONAL:
        if stripped == "":
            return False, None
        return True, _scalar(stripped)
    if shape == LIST:
        if stripped == "":
            return True, []
        if stripped.startswith("["):
            try:
                return True, json.loads(stripped)
            except ValueError as error:
                errors.setdefault(path, []).append(f"is not a valid JSON list: {error}")
                return True, stripped
        return True, [_scalar(part) for part in stripped.split(",") if part.strip() != ""]
    if stripped == "":
        return True, ""
    return True, _scalar(stripped)


def _conditions(state: BuilderState, errors: Errors) -> list[Any]:
    conditions: list[Any] = []
    for row in state.conditions:
        index = len(conditions)
        path = f"conditions[{index}]"
        if "json" in row:
            try:
                conditions.append(json.loads(row["json"]))
            except ValueError as error:
                errors.setdefault(path, []).append(f"is not valid JSON: {error}")
                conditions.append({})
            continue
        condition: dict[str, Any] = {"type": row.get("type", "").strip(), "operator": row.get("operator", "")}
        present, value = _condition_value(row.get("operator", ""), row.get("value", ""), f"{path}.value", errors)
        if present:
            condition["value"] = value
        conditions.append(condition)
    return conditions


def _trigger_config(state: BuilderState) -> dict[str, Any]:
    kind = get_trigger_kind(state.get("trigger_type"))
    config: dict[str, Any] = {}
    if kind is None:
        return config

    def typed(key: str) -> str:
        return state.get(kind.input_name(key))

    for spec in kind.fields:
        if shown(spec, typed):
            _put(config, spec.key, typed(spec.key), spec.kind)
    return config


def _action_config(state: BuilderState, errors: Errors) -> dict[str, Any]:
    action_type = state.get("action_type")
    config: dict[str, Any] = {}
    for spec in action_fields(action_type):
        raw = state.action.get(action_input_name(action_type, spec.key), "")
        path = f"action_config.{spec.key}"
        if spec.kind == "multi":
            if raw:
                config[spec.key] = list(raw)
        elif spec.kind == "bool":
            config[spec.key] = raw in ("on", "true", "1")
        elif spec.kind == "json":
            if raw.strip():
                try:
                    config[spec.key] = json.loads(raw)
                except ValueError as error:
                    errors.setdefault(path, []).append(f"is not valid JSON: {error}")
        else:
            _put(config, spec.key, raw, spec.kind)
    _put(config, "budget", state.get("action_budget"), "number")
    return config


def rule_data_from_state(state: BuilderState) -> tuple[dict[str, Any], Errors]:
    """The rule body for ``rule_create``/``rule_update`` and errors for text that could not be read."""
    errors: Errors = {}
    auto_approval: dict[str, Any] = {}
    _put(auto_approval, "max_budget", state.get("aa_max_budget"), "number")
    _put(auto_approval, "max_frequency_per_day", state.get("aa_max_frequency_per_day"), "int")
    for key in ("trusted_users_only", "business_hours_only"):
        if state.flags.get(f"aa_{key}"):
            auto_approval[key] = True
    data: dict[str, Any] = {
        "name": state.get("name").strip(),
        "description": state.get("description").strip(),
        "category": state.get("category"),
        "enabled": state.flags.get("enabled", False),
        "trigger_type": state.get("trigger_type"),
        "trigger_config": _trigger_config(state),
        "conditions": _conditions(state, errors),
        "action_type": state.get("action_type"),
        "action_config": _action_config(state, errors),
        "risk_level": state.get("risk_level") or "low",
        "requires_approval": state.flags.get("requires_approval", False),
        "assigned_council_id": state.get("assigned_council") or None,
        "auto_approval_rules": auto_approval,
        "mode": "shadow" if state.flags.get("shadow_mode") else "live",
    }
    for key in ("contact_cap", "when_capped"):  # left out of a post: the rule keeps its own (a new one the default)
        if state.get(key):
            data[key] = state.get(key)
    return data, errors
