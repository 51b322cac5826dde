"""One FilterSet per model, shared by the API and the pages."""

from __future__ import annotations

import django_filters
from django.utils.choices import CallableChoiceIterator
from django_filters.widgets import BooleanWidget

from automations.choices import Category, RiskLevel
from automations.kinds.triggers import trigger_kind_choices
from automations.models import AutomationRule


class AutomationRuleFilterSet(django_filters.FilterSet):
    # A plain text filter, not a model choice: an unknown or foreign tenant id matches no rows
    # instead of answering "no such tenant", which would tell callers which tenants exist.
    tenant_id = django_filters.CharFilter(field_name="tenant_id", help_text="Only rules of this tenant.")
    category = django_filters.ChoiceFilter(choices=Category.choices)
    # Iterated on each use (host kinds count); not a callable, so the API schema still lists the enum.
    trigger_type = django_filters.ChoiceFilter(choices=CallableChoiceIterator(trigger_kind_choices))
    enabled = django_filters.BooleanFilter(widget=BooleanWidget(), help_text="true or false")
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices)

    class Meta:
        model = AutomationRule
        fields = ["tenant_id", "category", "trigger_type", "enabled", "risk_level"]
