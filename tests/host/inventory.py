"""A host trigger kind, ``inventory_count``: its spec (the automations half).

Its listener is ``tests.host.inventory_listener`` (the runtime half), named by ``runtime``;
``AUTOMATIONS["TRIGGER_KINDS"] = ["tests.host.inventory.INVENTORY_COUNT"]`` adds it.
"""

from __future__ import annotations

from typing import Any

from automations.kinds.fields import FieldSpec
from automations.kinds.triggers import TriggerKind, TriggerText

KEYS = ("warehouse", "below")


def validate(config: dict[str, Any], prefix: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in config:
        if key not in KEYS:
            errors[f"{prefix}.{key}"] = [f"unknown field; expected one of {', '.join(KEYS)}"]
    warehouse = config.get("warehouse")
    if not isinstance(warehouse, str) or not warehouse.strip() or len(warehouse) > 50:
        errors[f"{prefix}.warehouse"] = ["this field is required, a warehouse code such as berlin-1"]
    below = config.get("below")
    if not isinstance(below, int) or isinstance(below, bool) or not 1 <= below <= 1_000_000:
        errors[f"{prefix}.below"] = ["must be a whole number from 1 to 1000000"]
    return errors


def describe(config: dict[str, Any]) -> TriggerText:
    warehouse, below = config.get("warehouse"), config.get("below")
    where = f" in {warehouse}" if isinstance(warehouse, str) and warehouse else ""
    level = f" below {below}" if isinstance(below, int) else ""
    clause = f"a stock count{where} comes in{level}"
    return TriggerText(clause, f"A stock count{where} comes in{level}")


INVENTORY_COUNT = TriggerKind(
    key="inventory_count",
    label="Inventory count",
    fields=(
        FieldSpec("warehouse", "Warehouse", placeholder="berlin-1"),
        FieldSpec("below", "Below", "int", help="fires when a count comes in under this"),
    ),
    validate=validate,
    describe=describe,
    runtime="tests.host.inventory_listener",
)
