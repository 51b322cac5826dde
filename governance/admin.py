"""Admin for tenants, memberships, councils and trusted users.

Every admin here and in the other apps derives from ``PolicyAdmin``: what a user may see and do is
decided by the permission policy (governance/policy.py) for their role in each row's tenant, never by
Django's model permissions, and every change goes through a service that asks the policy again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ForeignKey, Model, QuerySet
from django.http import HttpRequest

from governance import policy
from governance.common.words import plural
from governance.models import ApiToken, Council, CouncilMember, Membership, Tenant, TrustedUser
from governance.roles import Capability
from governance.selectors import tenant_ids_for_user
from governance.services import (
    TENANT_EDITABLE_FIELDS,
    api_token_revoke,
    council_delete,
    council_member_add,
    council_member_remove,
    council_save,
    membership_remove,
    membership_set,
    tenant_update,
    trusted_user_add,
    trusted_user_remove,
)
from governance.users import request_user


class PolicyAdmin(admin.ModelAdmin):
    """A ModelAdmin that asks the permission policy, per row's tenant, what the user may do.

    - ``tenant_lookup``: the ORM path from the model to its tenant id (rows are scoped to the user's
      tenants; superusers see all).
    - ``view_capability`` / ``change_capability`` / ``add_capability`` / ``delete_capability``: the
      policy capability each needs (None: nobody, e.g. rows only the pipeline writes).
    - ``risk_levels(obj)``: the rule risk levels a change is about (rules only).
    """

    tenant_lookup = "tenant_id"
    view_capability: str | None = Capability.READ
    change_capability: str | None = None
    add_capability: str | None = None
    delete_capability: str | None = None

    def tenant_id_of(self, obj: Model) -> str:
        value: Any = obj
        for part in self.tenant_lookup.split("__"):
            value = getattr(value, part)
        return str(value)

    def risk_levels(self, obj: Model | None) -> tuple[str, ...]:
        return ()

    def may(self, request: HttpRequest, capability: str | None, obj: Model | None = None) -> bool:
        """The policy's answer for ``obj``'s tenant, or (no obj) for at least one of the user's tenants."""
        user = request.user
        if capability is None or not (user.is_active and user.is_staff):
            return False
        if obj is None:
            return user.is_superuser or bool(policy.tenant_ids_allowing(user, capability))
        return policy.allows(user, self.tenant_id_of(obj), capability, *self.risk_levels(obj))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may(request, self.view_capability)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may(request, self.view_capability, obj) or self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may(request, self.change_capability, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.may(request, self.add_capability)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may(request, self.delete_capability, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_lookup}__in": tenant_ids_for_user(request_user(request))})

    def writable_tenant_ids(self, request: HttpRequest) -> list[str]:
        """Tenants the user may add or change rows in: the only ones a form offers."""
        capability = self.add_capability or self.change_capability
        return policy.tenant_ids_allowing(request.user, capability) if capability else []

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            tenant_ids = self.writable_tenant_ids(request)
            if db_field.related_model is Tenant:
                kwargs["queryset"] = Tenant.objects.filter(id__in=tenant_ids)
            elif db_field.related_model is Council:
                kwargs["queryset"] = Council.objects.filter(tenant_id__in=tenant_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def run_service(self, request: HttpRequest, label: str, function: Any, *args: Any, **kwargs: Any) -> bool:
        """Call a service for an admin action; a refusal becomes an error message, not a 500."""
        try:
            function(*args, **kwargs)
        except (PermissionDenied, ValidationError) as error:
            text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(request, f"{label}: {text}", messages.ERROR)
            return False
        return True


# Kept for the other apps' admins: every tenant-scoped admin is a policy admin.
TenantScopedAdmin = PolicyAdmin


class ReadOnlyPolicyAdmin(PolicyAdmin):
    """Rows written only by the pipeline: viewable by the tenant's members, never edited by hand."""


class UsernameField(forms.ModelChoiceField):
    """A user picked by username (typed), so no list of the platform's users is ever shown."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"autocomplete": "off"}))
        kwargs.setdefault("help_text", "The user's username.")
        kwargs.setdefault("error_messages", {"invalid_choice": "No user has that username."})
        super().__init__(queryset=get_user_model().objects.filter(is_active=True), to_field_name="username", **kwargs)


class UsernameFormMixin(forms.ModelForm):
    """Shows a saved row's user by username; a saved row's user is not changed in place."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "user" in self.fields:
            self.initial["user"] = self.instance.user.get_username()
            self.fields["user"].disabled = True


class MembershipForm(UsernameFormMixin):
    user = UsernameField()

    class Meta:
        model = Membership
        fields = ["tenant", "user", "role"]


class CouncilMemberForm(UsernameFormMixin):
    user = UsernameField()

    class Meta:
        model = CouncilMember
        fields = ["council", "user"]


class TrustedUserForm(UsernameFormMixin):
    user = UsernameField()

    class Meta:
        model = TrustedUser
        fields = ["tenant", "user"]


_MEMBERSHIP_INLINE_FIELDS = ("user", "role", "created_at")  # shown, never edited here


class MembershipInline(admin.TabularInline):
    """Who belongs to the tenant; memberships are changed on the Membership pages (through the services)."""

    model = Membership
    extra = 0
    fields = _MEMBERSHIP_INLINE_FIELDS
    readonly_fields = _MEMBERSHIP_INLINE_FIELDS
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Tenant)
class TenantAdmin(PolicyAdmin):
    tenant_lookup = "id"
    change_capability = Capability.MANAGE_TENANT
    list_display = ["id", "name", "timezone", "business_hours_start", "business_hours_end", "created_at"]
    list_filter = ["timezone"]
    search_fields = ["id", "name"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        # TRICKY: the id is the primary key. Editable, a change form would save another tenant's row
        # under the new id (Django turns the save into an UPDATE of that row). Set once, on add.
        return ["id", "created_at"] if obj is not None else ["created_at"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.full_clean()
            obj.save()
            return
        # The form's instance, as the form validated it: a field left out of the post keeps its stored value
        # there (ModelForm keeps a model default), while cleaned_data would hold the empty value.
        changes = {name: getattr(obj, name) for name in TENANT_EDITABLE_FIELDS if name in form.cleaned_data}
        tenant_update(obj, changes, request_user(request))


@admin.register(Membership)
class MembershipAdmin(PolicyAdmin):
    form = MembershipForm
    change_capability = add_capability = delete_capability = Capability.MANAGE_TENANT
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "tenant__id", "tenant__name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        # A membership never moves to another tenant or user: remove it and add another.
        return ["tenant", "user"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Membership, form: forms.ModelForm, change: bool) -> None:
        saved = membership_set(obj.tenant, obj.user, obj.role, request_user(request))
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(obj, request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("tenant", "user"):
            self.run_service(request, f"{membership}", membership_remove, membership, request_user(request))


class CouncilMemberInline(admin.TabularInline):
    """Seats on a council; saved through the council services (only approving roles may sit)."""

    model = CouncilMember
    form = CouncilMemberForm
    fields = ["user"]
    extra = 0


@admin.register(Council)
class CouncilAdmin(PolicyAdmin):
    change_capability = add_capability = delete_capability = Capability.MANAGE_TENANT
    list_display = ["name", "tenant", "is_default", "created_at"]
    list_filter = ["is_default", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "id", "tenant__id"]
    inlines = [CouncilMemberInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Council | None = None) -> list[str]:
        return ["tenant", "is_default"] if obj is not None else ["is_default"]

    def save_model(self, request: HttpRequest, obj: Council, form: forms.ModelForm, change: bool) -> None:
        council_save(obj, request_user(request))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        seats = formset.save(commit=False)
        for seat in formset.deleted_objects:
            council_member_remove(seat, request_user(request))
        for seat in seats:
            if seat.pk is None:
                council_member_add(form.instance, seat.user, request_user(request))

    def delete_model(self, request: HttpRequest, obj: Council) -> None:
        council_delete(obj, request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Council]) -> None:
        for council in queryset:
            self.run_service(request, council.name, council_delete, council, request_user(request))


@admin.register(CouncilMember)
class CouncilMemberAdmin(PolicyAdmin):
    form = CouncilMemberForm
    tenant_lookup = "council__tenant_id"
    change_capability = add_capability = delete_capability = Capability.MANAGE_TENANT
    list_display = ["user", "council", "created_at"]
    list_filter = [("council__tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "council__name"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)  # a seat is added or removed

    def save_model(self, request: HttpRequest, obj: CouncilMember, form: forms.ModelForm, change: bool) -> None:
        saved = council_member_add(obj.council, obj.user, request_user(request))
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CouncilMember) -> None:
        council_member_remove(obj, request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CouncilMember]) -> None:
        for seat in queryset.select_related("council"):
            self.run_service(request, f"{seat}", council_member_remove, seat, request_user(request))


@admin.register(TrustedUser)
class TrustedUserAdmin(PolicyAdmin):
    form = TrustedUserForm
    change_capability = add_capability = delete_capability = Capability.MANAGE_TENANT
    list_display = ["user", "tenant", "created_at"]
    list_filter = [("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "tenant__id"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)  # trust is added or removed

    def save_model(self, request: HttpRequest, obj: TrustedUser, form: forms.ModelForm, change: bool) -> None:
        saved = trusted_user_add(obj.tenant, obj.user, request_user(request))
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: TrustedUser) -> None:
        trusted_user_remove(obj, request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TrustedUser]) -> None:
        for trusted in queryset:
            self.run_service(request, f"{trusted}", trusted_user_remove, trusted, request_user(request))


# Shown, never edited here.
_API_TOKEN_FIELDS = ("prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens by prefix, name, user and dates; never the key (only its digest is stored, and not shown).

    Tokens are made by ``manage.py api_token``; here they are listed and revoked. Superusers see every
    token, other staff their own.
    """

    list_display = ["prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at", "state"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username"]
    fields = _API_TOKEN_FIELDS
    readonly_fields = _API_TOKEN_FIELDS
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request_user(request))

    # Not Django's model permissions: any active staff user manages their own tokens (superusers: all).
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return self.has_module_permission(request) and (
            obj is None or request.user.is_superuser or obj.user_id == request.user.pk
        )

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    @admin.display(description="state")
    def state(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "expired" if token.is_expired else "active"

    @admin.action(description="Revoke selected API tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = api_token_revoke(queryset)
        self.message_user(request, f"Revoked {plural(count, 'token')}.", messages.SUCCESS)
