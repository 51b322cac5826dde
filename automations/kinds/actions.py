"""The action kind registry: one ``ActionKind`` per action type.

A spec holds what the automations side knows of its action: the key (the ``action_type`` value), the
label, the builder's fields, the config validator and the words for the summary. Its runtime half, the
command builder, lives on the executions side (``executions/actions/<name>.py``, registered there with
``executions.actions.register``). The built-ins are in ``automations.builtin_kinds.actions``.

A host project adds kinds with ``AUTOMATIONS["ACTION_KINDS"]``: dotted paths to ``ActionKind``
objects. Each spec's ``runtime`` names the module that registers its command builder; it is imported
when the spec is loaded (at start-up, and again when the setting changes in a test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automations.kinds.fields import FieldSpec
from automations.kinds.loading import load_host_specs

Errors = dict[str, list[str]]
DEFAULT_MINUTES_SAVED = 5.0


@dataclass(frozen=True)
class ActionText:
    clause: str  # follows the comma in the summary: "send a notification to the owner …"
    description: str  # stands alone: "Send notification to owner"


@dataclass(frozen=True)
class ActionKind:
    """One action type: everything but its command builder."""

    key: str  # the action_type value (the spec's enum value; a contract)
    label: str
    fields: tuple[FieldSpec, ...]  # the builder's inputs, one per action_config key (budget is common)
    validate: Callable[[dict[str, Any], str], Errors]  # (action_config, "action_config") -> path-keyed errors
    describe: Callable[[dict[str, Any]], ActionText]  # the summary's clause and description
    runtime: str = ""  # a host kind: the module that registers its command builder
    # Minutes of a person's work one successful run saves: the dashboard's "time saved" unless the tenant
    # sets its own (``Tenant.minutes_saved_per_action``, docs/analytics.md).
    minutes_saved: float = DEFAULT_MINUTES_SAVED
    # The channels on which a run reaches the rule's customer (email, sms, push; "any" for a customer-facing
    # action on no particular channel), from its config: what the tenant's contact policy caps
    # (docs/contact-pressure.md). None: the action does not reach the customer (a shop-side change).
    contact_channels: Callable[[dict[str, Any]], frozenset[str]] | None = None


ACTION_KINDS: dict[str, ActionKind] = {}
_HOST_KEYS: set[str] = set()


def register_action_kind(kind: ActionKind) -> ActionKind:
    ACTION_KINDS[kind.key] = kind
    return kind


def get_action_kind(key: object) -> ActionKind | None:
    return ACTION_KINDS.get(key) if isinstance(key, str) else None


def action_contact_channels(action_type: object, config: object) -> frozenset[str]:
    """The channels a run of ``action_type`` with ``config`` reaches its customer on (with "any"), or
    nothing when it is not customer-facing or the type is unknown."""
    kind = get_action_kind(action_type)
    if kind is None or kind.contact_channels is None:
        return frozenset()
    return kind.contact_channels(config if isinstance(config, dict) else {})


def action_kind_keys() -> list[str]:
    return list(ACTION_KINDS)


def action_kind_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every action kind, built-in first: the model's, the API's and the builder's."""
    return [(kind.key, kind.label) for kind in ACTION_KINDS.values()]


def minutes_saved_by_action_type() -> dict[str, float]:
    """Each action kind's default minutes saved per successful run (``ActionKind.minutes_saved``)."""
    return {kind.key: kind.minutes_saved for kind in ACTION_KINDS.values()}


def load_host_action_kinds() -> None:
    """(Re)load ``AUTOMATIONS["ACTION_KINDS"]``: drop the previous host kinds, add the listed ones."""
    load_host_specs("ACTION_KINDS", ActionKind, ACTION_KINDS, _HOST_KEYS)
