"""The trigger kind registry: one ``TriggerKind`` per trigger type.

A spec holds what the automations side knows of its trigger: the key (the ``trigger_type`` value), the
label, the builder's fields (the builder's panel is generated from them), the config validator and the
words for the summary. Its listener, which notices when the trigger fires and starts the rule's
executions, lives on the executions side (``executions/listeners/``). The built-ins are in
``automations.builtin_kinds.triggers``; a host project adds kinds with
``AUTOMATIONS["TRIGGER_KINDS"]`` (dotted paths to ``TriggerKind`` objects; ``runtime`` names the
module of its listener, imported when the spec is loaded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automations.kinds.fields import FieldSpec
from automations.kinds.loading import load_host_specs

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class TriggerText:
    """``clause`` follows "When" in the summary (or opens it, for schedules); ``description`` stands alone."""

    clause: str
    description: str
    opens_sentence: bool = False  # schedules: "Every Monday at 09:00, …" instead of "When …, …"


@dataclass(frozen=True)
class TriggerKind:
    """One trigger type: everything but its listener."""

    key: str  # the trigger_type value (the spec's enum value; a contract)
    label: str
    fields: tuple[FieldSpec, ...]  # the builder's panel, one input per trigger_config key
    validate: Callable[[dict[str, Any], str], Errors]  # (trigger_config, "trigger_config") -> path-keyed errors
    describe: Callable[[dict[str, Any]], TriggerText]  # the summary's clause and description
    runtime: str = ""  # a host kind: the module of its listener
    # The built-ins keep their flat input names (t_metric); a host kind's inputs are t_<kind>__<key>, so
    # two kinds may use the same config key.
    flat_input_names: bool = False

    def input_name(self, key: str) -> str:
        return f"t_{key}" if self.flat_input_names else f"t_{self.key}__{key}"


TRIGGER_KINDS: dict[str, TriggerKind] = {}
_HOST_KEYS: set[str] = set()


def register_trigger_kind(kind: TriggerKind) -> TriggerKind:
    TRIGGER_KINDS[kind.key] = kind
    return kind


def get_trigger_kind(key: object) -> TriggerKind | None:
    return TRIGGER_KINDS.get(key) if isinstance(key, str) else None


def trigger_kind_keys() -> list[str]:
    return list(TRIGGER_KINDS)


def trigger_kind_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every trigger kind, built-in first: the model's, the API's and the builder's."""
    return [(kind.key, kind.label) for kind in TRIGGER_KINDS.values()]


def load_host_trigger_kinds() -> None:
    """(Re)load ``AUTOMATIONS["TRIGGER_KINDS"]``: drop the previous host kinds, add the listed ones."""
    load_host_specs("TRIGGER_KINDS", TriggerKind, TRIGGER_KINDS, _HOST_KEYS)
