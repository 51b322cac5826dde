"""One FilterSet per model, shared by the API and the pages."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.choices import CallableChoiceIterator
from django_filters.fields import IsoDateTimeField

from automations.filters import StrictBooleanFilter
from automations.kinds.actions import action_kind_choices
from executions.choices import OUTCOME_CHOICES, ExecutionStatus, TriggerSource
from executions.delivery.models import WebhookEndpoint
from executions.models import AutomationExecution, outcome_q


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, as the same moment in UTC.

    Python accepts UTC offsets up to 24 hours, PostgreSQL only up to 15:59 (and no moment before
    year 1 or after 9999 in UTC): a value is compared in UTC, and one that has no UTC moment is refused.
    """

    def to_python(self, value: object) -> dt.datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise ValidationError("This date and time is out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class AutomationExecutionFilterSet(django_filters.FilterSet):
    success = StrictBooleanFilter()
    status = django_filters.ChoiceFilter(choices=ExecutionStatus.choices)
    outcome = django_filters.ChoiceFilter(
        choices=OUTCOME_CHOICES,
        method="filter_outcome",
        help_text="A status, or recorded_only (succeeded, but nothing received the command); succeeded then "
        "means something received it.",
    )
    trigger_source = django_filters.ChoiceFilter(choices=TriggerSource.choices)
    since = UtcIsoDateTimeFilter(
        field_name="triggered_at", lookup_expr="gte", help_text="Triggered at or after (ISO 8601)."
    )
    until = UtcIsoDateTimeFilter(field_name="triggered_at", lookup_expr="lt", help_text="Triggered before (ISO 8601).")
    tenant_id = django_filters.CharFilter(field_name="tenant_id")
    automation_rule_id = django_filters.CharFilter(field_name="automation_rule_id")
    q = django_filters.CharFilter(
        method="filter_text", max_length=200, help_text="Text in the rule's name or the execution's error."
    )

    class Meta:
        model = AutomationExecution
        fields = [
            "success",
            "status",
            "outcome",
            "trigger_source",
            "since",
            "until",
            "tenant_id",
            "automation_rule_id",
            "q",
        ]

    def filter_text(
        self, queryset: QuerySet[AutomationExecution], name: str, value: str
    ) -> QuerySet[AutomationExecution]:
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(Q(automation_rule__name__icontains=text) | Q(error_message__icontains=text))

    def filter_outcome(
        self, queryset: QuerySet[AutomationExecution], name: str, value: str
    ) -> QuerySet[AutomationExecution]:
        return queryset.filter(outcome_q(value)) if value else queryset


class WebhookEndpointFilterSet(django_filters.FilterSet):
    tenant_id = django_filters.CharFilter(field_name="tenant_id")
    enabled = StrictBooleanFilter()
    action_type = django_filters.ChoiceFilter(choices=CallableChoiceIterator(action_kind_choices))

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant_id", "enabled", "action_type"]
