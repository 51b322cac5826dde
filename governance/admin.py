"""Admin for tenants, memberships, councils and trusted users; every list is scoped to the user's tenants."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest

from governance.models import ApiToken, Council, CouncilMember, Membership, Tenant, TrustedUser
from governance.selectors import tenant_ids_for_user
from governance.services import api_token_revoke


class TenantScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows, and tenant/council choices, are limited to the user's tenants.

    ``tenant_lookup`` is the ORM path from the model to its tenant id.
    """

    tenant_lookup = "tenant_id"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_lookup}__in": tenant_ids_for_user(request.user)})

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any):
        if not request.user.is_superuser:
            tenant_ids = tenant_ids_for_user(request.user)
            if db_field.related_model is Tenant:
                kwargs["queryset"] = Tenant.objects.filter(id__in=tenant_ids)
            elif db_field.related_model is Council:
                kwargs["queryset"] = Council.objects.filter(tenant_id__in=tenant_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_lookup = "id"
    list_display = ["id", "name", "timezone", "business_hours_start", "business_hours_end", "created_at"]
    list_filter = ["timezone"]
    search_fields = ["id", "name"]
    inlines = [MembershipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "tenant__id", "tenant__name"]
    autocomplete_fields = ["user"]


class CouncilMemberInline(admin.TabularInline):
    model = CouncilMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Council)
class CouncilAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "is_default", "created_at"]
    list_filter = ["is_default", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "id", "tenant__id"]
    inlines = [CouncilMemberInline]


@admin.register(CouncilMember)
class CouncilMemberAdmin(TenantScopedAdmin):
    tenant_lookup = "council__tenant_id"
    list_display = ["user", "council", "created_at"]
    list_filter = [("council__tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "council__name"]
    autocomplete_fields = ["user"]


@admin.register(TrustedUser)
class TrustedUserAdmin(TenantScopedAdmin):
    list_display = ["user", "tenant", "created_at"]
    list_filter = [("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "tenant__id"]
    autocomplete_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens by prefix, name, user and dates; never the key (only its digest is stored, and not shown).

    Tokens are made by ``manage.py api_token``; here they are listed and revoked. Superusers see every
    token, other staff their own.
    """

    list_display = ["prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at", "state"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username"]
    fields = ["prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="state")
    def state(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "expired" if token.is_expired else "active"

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = api_token_revoke(queryset)
        self.message_user(request, f"Revoked {count} token{'s' if count != 1 else ''}.", messages.SUCCESS)
