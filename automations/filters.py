"""One FilterSet per model, shared by the API and the pages."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.choices import CallableChoiceIterator
from django_filters.widgets import BooleanWidget

from automations.choices import Category, RiskLevel
from automations.kinds.triggers import trigger_kind_choices
from automations.models import AutomationRule

BOOLEAN_WORDS = {"true": True, "1": True, "false": False, "0": False}


class StrictBooleanWidget(BooleanWidget):
    """BooleanWidget that hands an unknown value on as typed, so the field can refuse it (the stock widget
    turns ``enabled=maybe`` into "no filter" and answers with everything)."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = data.get(name)
        if isinstance(value, str) and value.lower() not in BOOLEAN_WORDS and value != "":
            return value
        return super().value_from_datadict(data, files, name)


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0), any case; absent or empty means "no filter"; anything else is refused."""

    widget = StrictBooleanWidget

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: no filter, as NullBooleanField
        if value is None or value == "" or isinstance(value, bool):
            return value if isinstance(value, bool) else None
        if isinstance(value, str) and value.lower() in BOOLEAN_WORDS:
            return BOOLEAN_WORDS[value.lower()]
        raise ValidationError("Must be true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    """The boolean filter of every FilterSet: ``?enabled=maybe`` is a 400 naming ``enabled``."""

    field_class = StrictBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", StrictBooleanWidget())
        kwargs.setdefault("help_text", "true or false")
        super().__init__(*args, **kwargs)


class AutomationRuleFilterSet(django_filters.FilterSet):
    # A plain text filter, not a model choice: an unknown or foreign tenant id matches no rows
    # instead of answering "no such tenant", which would tell callers which tenants exist.
    tenant_id = django_filters.CharFilter(field_name="tenant_id", help_text="Only rules of this tenant.")
    category = django_filters.ChoiceFilter(choices=Category.choices)
    # Iterated on each use (host kinds count); not a callable, so the API schema still lists the enum.
    trigger_type = django_filters.ChoiceFilter(choices=CallableChoiceIterator(trigger_kind_choices))
    enabled = StrictBooleanFilter()
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices)

    class Meta:
        model = AutomationRule
        fields = ["tenant_id", "category", "trigger_type", "enabled", "risk_level"]
