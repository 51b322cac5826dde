"""The tenant switcher."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from governance.portal import set_current_tenant
from governance.selectors import tenant_for_user
from governance.users import request_user


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's tenants current; a tenant they do not belong to is a 404."""
    tenant = tenant_for_user(request_user(request), request.POST.get("tenant"))
    if tenant is None:
        raise Http404("No such tenant.")
    set_current_tenant(request, tenant)
    return redirect("automations:list")
