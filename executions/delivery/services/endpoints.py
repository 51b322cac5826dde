"""Services for webhook endpoints: create (the secret is handed out once), update, rotate, disable, enable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from automations.conf import app_settings
from executions.delivery.models import WebhookEndpoint
from executions.delivery.signing import generate_secret
from governance import policy
from governance.roles import Capability

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import Tenant

ENDPOINT_EDITABLE_FIELDS = ("url", "enabled", "action_type", "description", "include_trigger_payload")


@dataclass(frozen=True)
class CreatedEndpoint:
    """A new endpoint and its signing secret: the only time the secret is handed out."""

    endpoint: WebhookEndpoint
    secret: str


def endpoint_create(
    tenant: Tenant,
    url: str,
    *,
    action_type: str | None = None,
    description: str = "",
    enabled: bool = True,
    include_trigger_payload: bool = True,
    user: User | None = None,
) -> CreatedEndpoint:
    """Create an endpoint with a new secret; return both. The secret is never shown again."""
    endpoint = WebhookEndpoint(
        tenant=tenant,
        url=url,
        action_type=action_type or None,
        description=description,
        enabled=enabled,
        include_trigger_payload=include_trigger_payload,
    )
    secret = endpoint_save_new(endpoint, user=user)
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def endpoint_save_new(endpoint: WebhookEndpoint, *, user: User | None = None) -> str:
    """Give an unsaved endpoint its secret, validate and save it; return the secret (admin's path)."""
    if endpoint.pk is not None:
        raise ValueError("endpoint_save_new() is for endpoints not saved yet.")
    policy.check(user, endpoint.tenant_id, Capability.MANAGE_WEBHOOKS)
    endpoint.secret = generate_secret()
    endpoint.full_clean()
    endpoint.save()
    return endpoint.secret


def endpoint_update(endpoint: WebhookEndpoint, data: dict[str, Any], *, user: User | None = None) -> WebhookEndpoint:
    """Change the URL, enabled flag, action type, description or whether the triggering payload is sent;
    refuse anything else by name."""
    policy.check(user, endpoint.tenant_id, Capability.MANAGE_WEBHOOKS)
    unknown = sorted(set(data) - set(ENDPOINT_EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({key: "not a field you can set on a webhook endpoint" for key in unknown})
    for key, value in data.items():
        setattr(endpoint, key, value)
    if "action_type" in data and not endpoint.action_type:
        endpoint.action_type = None
    if data.get("enabled") is True:
        endpoint.disabled_reason, endpoint.disabled_at = "", None
    endpoint.full_clean()
    # TRICKY: only what a person edits: the health fields move concurrently with deliveries' outcomes.
    endpoint.save(update_fields=[*ENDPOINT_EDITABLE_FIELDS, "disabled_reason", "disabled_at", "updated_at"])
    return endpoint


def endpoint_rotate_secret(
    endpoint: WebhookEndpoint, *, now: dt.datetime | None = None, user: User | None = None
) -> str:
    """Replace the secret; the previous one keeps signing for the grace period. Return the new secret.

    Only one previous secret is kept: rotating again during a grace period ends the older one's.
    """
    policy.check(user, endpoint.tenant_id, Capability.MANAGE_WEBHOOKS)
    now = now or timezone.now()
    grace = dt.timedelta(seconds=app_settings.WEBHOOK_SECRET_GRACE)
    new_secret = generate_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret=F("secret"),
        previous_secret_expires_at=now + grace,
        secret=new_secret,
        secret_rotated_at=now,
        updated_at=now,
    )
    endpoint.refresh_from_db()
    return new_secret


def endpoint_disable(
    endpoint: WebhookEndpoint, reason: str, *, now: dt.datetime | None = None, user: User | None = None
) -> None:
    """Stop sending to the endpoint and say why (shown in admin and API)."""
    policy.check(user, endpoint.tenant_id, Capability.MANAGE_WEBHOOKS)
    now = now or timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason=reason[:255], disabled_at=now, updated_at=now
    )
    endpoint.refresh_from_db()


def endpoint_enable(endpoint: WebhookEndpoint, *, user: User | None = None) -> None:
    """Send to the endpoint again and clear the reason it was disabled (and its health: a fresh start)."""
    policy.check(user, endpoint.tenant_id, Capability.MANAGE_WEBHOOKS)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True,
        disabled_reason="",
        disabled_at=None,
        consecutive_failures=0,
        unhealthy_since=None,
        updated_at=timezone.now(),
    )
    endpoint.refresh_from_db()
