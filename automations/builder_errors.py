"""The builder's error messages in words: each validator path (``trigger_config.time``,
``conditions[1].operator``) as the label of the field it belongs to, with a plain sentence.

The validators and the API keep the paths (they are data, and the API's error shape); only the
portal's pages turn them into "Time: This field is required, as HH:MM in 24-hour time.".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from automations.builder_state import action_fields
from automations.kinds.triggers import get_trigger_kind
from automations.summaries.text import capitalize

# The builder's own inputs (templates/automations/builder.html shows these labels beside them).
RULE_FIELD_LABELS = {
    "name": "Name",
    "description": "Description",
    "category": "Category",
    "enabled": "Enabled",
    "mode": "Shadow mode (log what it would do, never act)",
    "trigger_type": "Trigger type",
    "trigger_config": "Trigger settings",
    "conditions": "Conditions",
    "action_type": "Action Type",
    "action_config": "Action settings",
    "action_config.budget": "Budget",
    "risk_level": "Risk Level",
    "requires_approval": "Requires Approval",
    "assigned_council_id": "Assigned Council",
    "auto_approval_rules": "Auto-Approval Rules",
    "contact_cap": "Contact caps",
    "when_capped": "When held by a cap",
    "auto_approval_rules.max_budget": "Max Budget",
    "auto_approval_rules.max_frequency_per_day": "Max runs per day",
    "auto_approval_rules.trusted_users_only": "Trusted Users Only",
    "auto_approval_rules.business_hours_only": "Business Hours Only",
}
# A condition row's inputs ("Condition 2 operator").
CONDITION_PARTS = {"type": "type", "operator": "operator", "value": "value"}
SEGMENT_RE = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
# Messages that continue their field's name as a sentence ("Template data is not valid JSON").
PREDICATES = ("is ", "lists ", "must ")


@dataclass(frozen=True)
class FieldError:
    """One message for the page: the field's label, the message as a sentence, and the API's path."""

    path: str
    label: str
    message: str

    @property
    def text(self) -> str:
        return f"{self.label}: {self.message}" if self.label else self.message


def _segments(path: str) -> list[str | int]:
    """``conditions[1].all[0].type`` -> ["conditions", 1, "all", 0, "type"]."""
    return [int(index) if index else name for name, index in SEGMENT_RE.findall(path)]


def _words(key: str) -> str:
    return capitalize(key.replace("_", " "))


def _config_label(prefix: str, key: str, trigger_type: str, action_type: str) -> str:
    if f"{prefix}.{key}" in RULE_FIELD_LABELS:
        return RULE_FIELD_LABELS[f"{prefix}.{key}"]
    if prefix == "trigger_config":
        kind = get_trigger_kind(trigger_type)
        fields = kind.fields if kind is not None else ()
    else:
        fields = action_fields(action_type)
    return next((spec.label for spec in fields if spec.key == key), _words(key))


def _inner(parts: list[str | int]) -> str:
    """What is left of a path after its field: ``[0]`` -> "item 1", ``.all[1].type`` -> "all, item 2, type"."""
    words = [f"item {part + 1}" if isinstance(part, int) else part.replace("_", " ") for part in parts]
    return ", ".join(words)


def error_label(path: str, trigger_type: str = "", action_type: str = "") -> str:
    """The label a person sees for a validator ``path`` in the builder ("" for the rule as a whole)."""
    parts = _segments(path)
    if not parts:
        return ""
    head = parts[0]
    if head == "conditions" and len(parts) > 1 and isinstance(parts[1], int):
        label = f"Condition {parts[1] + 1}"
        rest = parts[2:]
        if len(rest) == 1 and rest[0] in CONDITION_PARTS:
            return f"{label} {CONDITION_PARTS[str(rest[0])]}"
        return f"{label} ({_inner(rest)})" if rest else label
    if head in ("trigger_config", "action_config", "auto_approval_rules") and len(parts) > 1:
        key = parts[1]
        if isinstance(key, str):
            if head == "auto_approval_rules":
                label = RULE_FIELD_LABELS.get(f"{head}.{key}", _words(key))
            else:
                label = _config_label(str(head), key, trigger_type, action_type)
            return f"{label} ({_inner(parts[2:])})" if len(parts) > 2 else label
    label = RULE_FIELD_LABELS.get(str(head), _words(str(head)))
    return f"{label} ({_inner(parts[1:])})" if len(parts) > 1 else label


def plain_message(message: str) -> str:
    """A validator's fragment ("this field is required") as a sentence ("This field is required.")."""
    text = capitalize(message.strip())
    return text if text.endswith((".", "?", "!", ")")) else f"{text}."


def field_errors_in_words(
    errors: dict[str, list[str]] | None, trigger_type: str = "", action_type: str = ""
) -> list[FieldError]:
    """Every message of a path-keyed error dict, labelled for the builder, in the dict's order."""
    found = []
    for path, messages in (errors or {}).items():
        label = error_label(path, trigger_type, action_type)
        for message in messages:
            if label and message.startswith(PREDICATES):
                # "is not valid JSON" continues the label: "Template data is not valid JSON."
                found.append(FieldError(path, "", plain_message(f"{label} {message}")))
            else:
                found.append(FieldError(path, label, plain_message(message)))
    return found


def inner_error_text(inner_path: str, message: str) -> str:
    """A message beside its input; ``inner_path`` is what the input's own path leaves ("[0]", "")."""
    parts = _segments(inner_path)
    sentence = plain_message(message)
    return f"{capitalize(_inner(parts))}: {sentence}" if parts else sentence
