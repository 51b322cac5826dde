"""Template context for the portal header: the user's tenants, the current one and the navigation (with the
approvals and notifications waiting, so it lives with them, on the executions side)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import reverse

from executions.selectors import approvals_decidable_by, unread_notification_count
from governance.portal import current_tenant, portal_prefix
from governance.selectors import tenants_for_user
from governance.users import request_user


def _nav(request: HttpRequest, tenant_id: str | None) -> list[dict[str, Any]]:
    """Links after "Automations", with how many approvals wait and notifications are unread; "Demo store"
    for a tenant that has one (make run's demo tenant)."""
    pending = approvals_decidable_by(request_user(request)).filter(tenant_id=tenant_id).count() if tenant_id else 0
    unread = unread_notification_count(request_user(request), tenant_id) if tenant_id else 0
    links = [
        {"label": "Activity", "url": reverse("executions:activity"), "count": 0},
        {"label": "Approvals", "url": reverse("executions:approvals"), "count": pending},
        {"label": "Notifications", "url": reverse("executions:notifications"), "count": unread},
        {"label": "Webhooks", "url": reverse("executions:webhooks"), "count": 0},
    ]
    if tenant_id and apps.is_installed("executions.demo"):
        # The demo store is an optional app (a host project leaves it out); its models load only when installed.
        from executions.demo.selectors import demo_store_exists

        if demo_store_exists(tenant_id):
            links.append({"label": "Demo store", "url": reverse("demo-store"), "count": 0})
    return links


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith(portal_prefix()):
        return {}
    tenant = current_tenant(request)
    return {
        "current_tenant": tenant,
        "user_tenants": list(tenants_for_user(user).order_by("id")),
        "portal_nav": _nav(request, tenant.pk if tenant else None),
    }
