"""Template context for the portal header: the user's tenants, the current one and the navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from governance.portal import current_tenant
from governance.selectors import tenants_for_user


def _nav(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"label": "Webhooks", "url": reverse("executions:webhooks"), "count": 0},
    ]


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith("/portal"):
        return {}
    return {
        "current_tenant": current_tenant(request),
        "user_tenants": list(tenants_for_user(user).order_by("id")),
        "portal_nav": _nav(request),
    }
