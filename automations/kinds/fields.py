"""A builder input, declared by a kind's spec: the builder renders it, the form reads it back."""

from __future__ import annotations

from dataclasses import dataclass

# The input kinds the builder knows: text, textarea, json (an object), int, number, bool, multi
# (checkboxes, a list of choices), select (one of the choices), time (HH:MM).
FIELD_KINDS = ("text", "textarea", "json", "int", "number", "bool", "multi", "select", "time")


@dataclass(frozen=True)
class FieldSpec:
    """One input of a kind's configuration: the JSON key, its label, its input kind, choices and help."""

    key: str
    label: str
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""
    placeholder: str = ""
    datalist: str = ""  # the id of a <datalist> the page provides (event-types, metrics, timezones)
    # Shown only while another input has one of these values: ("t_pattern", ("weekly",)).
    show_when: tuple[str, tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"{self.key}: unknown field kind {self.kind!r}; one of {', '.join(FIELD_KINDS)}")
