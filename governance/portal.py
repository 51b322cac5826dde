"""The portal's notion of "the current tenant": kept in the session, always checked against memberships."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from governance.choices import Role
from governance.models import Tenant
from governance.selectors import role_for_user, tenant_for_user, tenants_for_user

SESSION_KEY = "current_tenant_id"
EDITOR_ROLES = frozenset({Role.OWNER, Role.COLLABORATOR})


def current_tenant(request: HttpRequest) -> Tenant | None:
    """The session's tenant when the user still belongs to it, else the user's first tenant."""
    tenant = tenant_for_user(request.user, request.session.get(SESSION_KEY))
    if tenant is None:
        tenant = tenants_for_user(request.user).order_by("id").first()
        if tenant is not None:
            request.session[SESSION_KEY] = tenant.pk
    return tenant


def set_current_tenant(request: HttpRequest, tenant: Tenant) -> None:
    request.session[SESSION_KEY] = tenant.pk


def can_edit(request: HttpRequest, tenant_id: str) -> bool:
    return role_for_user(request.user, tenant_id) in EDITOR_ROLES


def require_editor(request: HttpRequest, tenant_id: str) -> None:
    """Refuse (403) a change by a user who may only read this tenant's rules."""
    if not can_edit(request, tenant_id):
        raise PermissionDenied("Only owners and collaborators can change automations.")


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
