"""Admin for rules and their versions. Saves go through the rule services, so validation, versioning
and the permission policy are the same as in the API; "delete" archives."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from automations.models import AutomationRule, RuleVersion
from automations.services import EDITABLE_FIELDS, rule_archive, rule_create, rule_update
from governance.admin import PolicyAdmin
from governance.roles import Capability
from governance.users import request_user

_RULE_VERSION_FIELDS = ("version", "changed_by", "changed_at", "definition")  # shown, never edited here


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    extra = 0
    can_delete = False
    fields = _RULE_VERSION_FIELDS
    readonly_fields = _RULE_VERSION_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Fields added after forms and scripts that post the rule form were written: a post that leaves them out
# keeps the rule's value (a new rule's default) instead of failing as "required".
KEPT_WHEN_LEFT_OUT = ("contact_cap", "when_capped")


@admin.register(AutomationRule)
class AutomationRuleAdmin(PolicyAdmin):
    change_capability = add_capability = Capability.WRITE
    delete_capability = Capability.DELETE
    list_display = [
        "name",
        "tenant",
        "category",
        "trigger_type",
        "action_type",
        "risk_level",
        "enabled",
        "execution_count",
        "version",
        "updated_at",
    ]
    list_filter = [
        "enabled",
        "trigger_type",
        "action_type",
        "risk_level",
        "category",
        "requires_approval",
        ("tenant", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["id", "name", "description", "event_type", "tenant__id", "tenant__name"]
    readonly_fields = [
        "id",
        "event_type",
        "version",
        "last_triggered_at",
        "last_executed_at",
        "execution_count",
        "success_count",
        "failure_count",
        "recorded_only_count",
        "average_execution_time_ms",
        "consecutive_failures",
        "paused_at",
        "paused_reason",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["id", "tenant", "name", "description", "category", "enabled"]}),
        ("Trigger", {"fields": ["trigger_type", "trigger_config", "event_type"]}),
        ("Conditions", {"fields": ["conditions"]}),
        ("Action", {"fields": ["action_type", "action_config"]}),
        ("Governance", {"fields": ["risk_level", "requires_approval", "assigned_council", "auto_approval_rules"]}),
        # The circuit breaker (docs/governance.md): enabling the rule resumes it and resets the count.
        ("Circuit breaker", {"fields": ["consecutive_failures", "paused_at", "paused_reason"]}),
        ("Contact pressure", {"fields": ["contact_cap", "when_capped"]}),
        (
            "Tracking",
            {
                "fields": [
                    "version",
                    "execution_count",
                    "success_count",
                    "failure_count",
                    "recorded_only_count",
                    "average_execution_time_ms",
                    "last_triggered_at",
                    "last_executed_at",
                    "created_by",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    inlines = [RuleVersionInline]
    actions = ["archive_selected"]

    def risk_levels(self, obj: Model | None) -> tuple[str, ...]:
        return (obj.risk_level,) if isinstance(obj, AutomationRule) else ()

    def get_readonly_fields(self, request: HttpRequest, obj: AutomationRule | None = None) -> list[str]:
        # The tenant is chosen once; moving a rule between tenants would move its audit trail.
        return [*self.readonly_fields, "tenant"] if obj is not None else list(self.readonly_fields)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in KEPT_WHEN_LEFT_OUT and field is not None:
            field.required = False  # a post without it keeps the stored value (or the default): see save_model
        return field

    def save_model(self, request: HttpRequest, obj: AutomationRule, form: ModelForm, change: bool) -> None:
        data = {field: form.cleaned_data[field] for field in EDITABLE_FIELDS if field in form.cleaned_data}
        for field in KEPT_WHEN_LEFT_OUT:
            # The form's instance, as the form validated it: a field left out of the post keeps its stored
            # value there (ModelForm keeps a model default), while cleaned_data would hold "".
            data[field] = getattr(obj, field)
        if "assigned_council" in form.cleaned_data:
            data["assigned_council"] = form.cleaned_data["assigned_council"]
        if change:
            saved = rule_update(
                AutomationRule.all_objects.get(pk=obj.pk), data, request_user(request), validated_as=obj
            )
        else:
            saved = rule_create(form.cleaned_data["tenant"], data, request_user(request), validated_as=obj)
        obj.pk, obj.version = saved.pk, saved.version

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[list[str], dict, set, list]:
        # "Delete" archives: nothing cascades and executions stay, so nothing is protected either.
        names = [f"Automation rule: {obj}" for obj in objs]
        return names, {"automation rules": len(names)}, set(), []

    def delete_model(self, request: HttpRequest, obj: AutomationRule) -> None:
        rule_archive(obj, request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AutomationRule]) -> None:
        for rule in queryset:
            self.run_service(request, rule.name, rule_archive, rule, request_user(request))

    @admin.action(description="Archive selected rules (executions are kept)", permissions=["delete"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[AutomationRule]) -> None:
        count = sum(
            self.run_service(request, rule.name, rule_archive, rule, request_user(request)) for rule in queryset
        )
        if count:
            self.message_user(request, f"Archived {count} rule(s).", messages.SUCCESS)


@admin.register(RuleVersion)
class RuleVersionAdmin(PolicyAdmin):
    tenant_lookup = "rule__tenant_id"
    list_display = ["rule", "version", "changed_by", "changed_at"]
    list_filter = [("rule__tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["rule__id", "rule__name"]
    readonly_fields = ["rule", "version", "definition", "changed_by", "changed_at"]
