"""API fields that read the kind registries (automations.kinds) each time they are used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers


class KindChoiceField(serializers.ChoiceField):
    """A ChoiceField whose choices are a registry's, read when used rather than when declared.

    Serializers nested at import time (``inline_serializer``, a declared ``rule = ...Serializer()``)
    would otherwise keep the kinds registered at import, without a host's ``AUTOMATIONS_*_KINDS``, and
    the API schema would then name two different enums ``ActionTypeEnum``.
    """

    def __init__(self, registry_choices: Callable[[], list[tuple[str, str]]], **kwargs: Any) -> None:
        self.registry_choices = registry_choices
        self._seen = registry_choices()
        super().__init__(choices=self._seen, **kwargs)

    def _current_choices(self) -> Any:
        current = self.registry_choices()
        if current != self._seen:
            self._seen = current  # first: _set_choices reads self.choices back
            self._set_choices(current)
        return self._choices

    choices = property(_current_choices, serializers.ChoiceField._set_choices)

    def to_internal_value(self, data: Any) -> Any:
        self._current_choices()
        return super().to_internal_value(data)
