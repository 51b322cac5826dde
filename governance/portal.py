"""The portal's notion of "the current tenant": kept in the session, always checked against memberships."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from governance import policy
from governance.models import Tenant
from governance.roles import Capability, risks_allowed
from governance.selectors import tenant_for_user, tenants_for_user
from governance.users import request_user

SESSION_KEY = "current_tenant_id"


def current_tenant(request: HttpRequest) -> Tenant | None:
    """The session's tenant when the user still belongs to it, else the user's first tenant."""
    tenant = tenant_for_user(request_user(request), request.session.get(SESSION_KEY))
    if tenant is None:
        tenant = tenants_for_user(request_user(request)).order_by("id").first()
        if tenant is not None:
            request.session[SESSION_KEY] = tenant.pk
    return tenant


def portal_prefix() -> str:
    """The path every portal page starts with: ``/portal/`` here, under the host's ``include()`` prefix when
    the apps are embedded (docs/embedding.md). The rules list is the portal's home page."""
    return reverse("automations:list").rsplit("/", 1)[0] + "/"


def set_current_tenant(request: HttpRequest, tenant: Tenant) -> None:
    request.session[SESSION_KEY] = tenant.pk


def allows(request: HttpRequest, capability: str, *risk_levels: str | None) -> bool:
    """The permission policy's answer for the current tenant: what a page offers (buttons, forms).

    Pages only show or hide with it; the services they call decide again.
    """
    return policy.allows(request.user, request.tenant.pk, capability, *risk_levels)  # type: ignore[attr-defined]


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first; then ``request.tenant`` is the current tenant (404 for a user with none)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        tenant = current_tenant(request)
        if tenant is None:
            raise Http404("You do not belong to any tenant.")
        request.tenant = tenant  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def writable_risks(request: HttpRequest) -> frozenset[str]:
    """The risk levels of rules the user may edit, enable and disable here: per-rule buttons on lists."""
    return risks_allowed(policy.actor_role(request_user(request), request.tenant.pk), Capability.WRITE)  # type: ignore[attr-defined]


def require(request: HttpRequest, capability: str, *risk_levels: str | None) -> None:
    """403 for a page whose only use is a change the policy refuses (a form the user could not submit)."""
    policy.check(request.user, request.tenant.pk, capability, *risk_levels)  # type: ignore[attr-defined]
