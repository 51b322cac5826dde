"""Admin for webhook endpoints and deliveries: tenant-scoped, secrets shown once, actions call services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from executions.delivery.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from executions.delivery.selectors import deliveries_for_user, endpoints_for_user
from executions.delivery.services import (
    ENDPOINT_EDITABLE_FIELDS,
    delivery_redeliver,
    endpoint_disable,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_save_new,
    endpoint_update,
)
from governance.admin import PolicyAdmin
from governance.roles import Capability
from governance.users import request_user


def _secret_message(endpoint: WebhookEndpoint, secret: str, verb: str) -> str:
    return (
        f"Signing secret for endpoint {endpoint.pk} ({endpoint.url}) {verb}: {secret} — "
        "copy it now; it will not be shown again."
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(PolicyAdmin):
    change_capability = add_capability = Capability.MANAGE_WEBHOOKS
    list_display = (
        "id",
        "url",
        "tenant",
        "action_type",
        "enabled",
        "include_trigger_payload",
        "disabled_reason",
        "created_at",
    )
    list_filter = ("enabled", "action_type")
    search_fields = ("url", "description", "tenant__id", "tenant__name")
    # The secrets are not editable fields, so no form ever renders them.
    fields = (
        "tenant",
        "url",
        "action_type",
        "description",
        "enabled",
        "include_trigger_payload",
        "disabled_reason",
        "consecutive_failures",
        "unhealthy_since",
        "secret_status",
    )
    readonly_fields = ("disabled_reason", "consecutive_failures", "unhealthy_since", "secret_status")
    actions = ("rotate_secret", "disable_endpoints", "enable_endpoints")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        return endpoints_for_user(request_user(request)).select_related("tenant")

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> tuple[str, ...]:
        # An endpoint never moves between tenants: its deliveries and secret belong to this one.
        return (*self.readonly_fields, "tenant") if obj is not None else self.readonly_fields

    @admin.display(description="Signing secret")
    def secret_status(self, obj: WebhookEndpoint) -> str:
        if obj.pk is None:
            return "Generated when you save; shown once."
        if obj.secret_rotated_at is None:
            return f"Set at creation ({obj.created_at:%Y-%m-%d %H:%M} UTC); never shown again."
        text = f"Rotated {obj.secret_rotated_at:%Y-%m-%d %H:%M} UTC"
        if obj.previous_secret_expires_at:
            text += f"; the previous secret signs too until {obj.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC"
        return text + "."

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if change:
            endpoint_update(
                obj, {name: getattr(obj, name) for name in ENDPOINT_EDITABLE_FIELDS}, user=request_user(request)
            )
            return
        secret = endpoint_save_new(obj, user=request_user(request))
        messages.warning(request, _secret_message(obj, secret, "created"))

    @admin.action(description="Rotate signing secret (the old one stays valid for the grace period)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            try:
                secret = endpoint_rotate_secret(endpoint, user=request_user(request))
            except PermissionDenied as error:
                self.message_user(request, f"Endpoint {endpoint.pk}: {error}", messages.ERROR)
                continue
            messages.warning(request, _secret_message(endpoint, secret, "rotated"))

    @admin.action(description="Disable selected endpoints")
    def disable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        reason = f"Disabled by {request.user.get_username()} in the admin."
        done = sum(
            self.run_service(
                request, f"Endpoint {endpoint.pk}", endpoint_disable, endpoint, reason, user=request_user(request)
            )
            for endpoint in queryset
        )
        if done:
            messages.success(request, f"Disabled {done} endpoint(s).")

    @admin.action(description="Enable selected endpoints")
    def enable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        done = sum(
            self.run_service(request, f"Endpoint {endpoint.pk}", endpoint_enable, endpoint, user=request_user(request))
            for endpoint in queryset
        )
        if done:
            messages.success(request, f"Enabled {done} endpoint(s).")


if TYPE_CHECKING:  # generic in the stubs only
    _AttemptInline = admin.TabularInline[DeliveryAttempt, WebhookDelivery]
else:
    _AttemptInline = admin.TabularInline


class DeliveryAttemptInline(_AttemptInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "attempt_number",
        "attempted_at",
        "outcome",
        "status_code",
        "duration_ms",
        "connected_address",
        "error",
        "response_excerpt",
    )
    readonly_fields = fields
    ordering = ("attempt_number",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(PolicyAdmin):
    list_display = (
        "id",
        "execution",
        "endpoint",
        "action_type",
        "webhook_id",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
    )
    list_filter = ("status", "action_type")
    search_fields = ("webhook_id", "endpoint__url")
    readonly_fields = (
        "tenant",
        "execution",
        "endpoint",
        "action_type",
        "webhook_id",
        "payload",
        "status",
        "attempt_count",
        "round_attempt_count",
        "next_attempt_at",
        "claimed_at",
        "last_status_code",
        "last_error",
        "completed_at",
        "created_at",
    )
    fields = readonly_fields
    inlines = (DeliveryAttemptInline,)
    actions = ("redeliver",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return deliveries_for_user(request_user(request)).select_related("endpoint", "execution")

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return self.may(request, Capability.MANAGE_WEBHOOKS)

    @admin.action(description="Redeliver selected failed deliveries (same webhook-id)", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done = sum(
            self.run_service(
                request, f"Delivery {delivery.pk}", delivery_redeliver, delivery, user=request_user(request)
            )
            for delivery in queryset.select_related("endpoint")
        )
        if done:
            messages.success(request, f"{done} delivery(ies) scheduled for redelivery with the same webhook-id.")
