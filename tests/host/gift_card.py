"""A host action kind, ``issue_gift_card``: its spec (the automations half).

Its command builder is ``tests.host.gift_card_command`` (the runtime half), named by ``runtime``;
``AUTOMATIONS["ACTION_KINDS"] = ["tests.host.gift_card.GIFT_CARD"]`` adds it.
"""

from __future__ import annotations

import math
from typing import Any

from automations.kinds.actions import ActionKind, ActionText
from automations.kinds.fields import FieldSpec

CURRENCIES = (("EUR", "Euro"), ("USD", "US dollar"))
KEYS = ("amount", "currency", "note", "budget")
MAX_AMOUNT = 500


def validate(config: dict[str, Any], prefix: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in config:
        if key not in KEYS:
            errors[f"{prefix}.{key}"] = [f"unknown field; expected one of {', '.join(KEYS)}"]
    amount = config.get("amount")
    if amount is None:
        errors[f"{prefix}.amount"] = ["this field is required, a number from 1 to 500"]
    elif (
        not isinstance(amount, int | float)
        or isinstance(amount, bool)
        or not math.isfinite(amount)
        or not 1 <= amount <= MAX_AMOUNT
    ):
        errors[f"{prefix}.amount"] = ["must be a number from 1 to 500"]
    if config.get("currency") not in dict(CURRENCIES):
        errors[f"{prefix}.currency"] = [f"must be one of {', '.join(dict(CURRENCIES))}"]
    note = config.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 200):
        errors[f"{prefix}.note"] = ["must be a text of at most 200 characters"]
    return errors


def describe(config: dict[str, Any]) -> ActionText:
    amount, currency = config.get("amount"), config.get("currency")
    value = f" of {amount:g} {currency}" if isinstance(amount, int | float) and isinstance(currency, str) else ""
    return ActionText(f"issue the customer a gift card{value}", f"Issue gift card{value}")


GIFT_CARD = ActionKind(
    key="issue_gift_card",
    label="Issue Gift Card",
    fields=(
        FieldSpec("amount", "Amount", "number", help="1 to 500"),
        FieldSpec("currency", "Currency", "select", CURRENCIES),
        FieldSpec("note", "Note", "text", help="printed on the card"),
    ),
    validate=validate,
    describe=describe,
    runtime="tests.host.gift_card_command",
)
