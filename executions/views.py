"""Pages for people: webhook endpoint settings (approvals and the notifications inbox follow the pipeline).

Each view reads through the pipeline's and delivery's selectors, scoped to the current tenant, and
changes state only through their services (the same ones the API and admin call).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.selectors import deliveries_for_user, endpoints_for_user
from executions.delivery.services import (
    delivery_redeliver,
    endpoint_create,
    endpoint_rotate_secret,
)
from governance.models import Tenant
from governance.portal import portal_view, require_editor

NOTIFICATIONS_PER_PAGE = 25
DELIVERIES_SHOWN = 50


def _tenant(request: HttpRequest) -> Tenant:
    return request.tenant  # type: ignore[attr-defined]


# --- webhook endpoints ---------------------------------------------------------------------------


def _endpoint_for_request(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = endpoints_for_user(request.user).filter(tenant=_tenant(request), pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _webhooks_page(request: HttpRequest, **extra: object) -> HttpResponse:
    tenant = _tenant(request)
    endpoints = endpoints_for_user(request.user).filter(tenant=tenant).order_by("id")
    deliveries = (
        deliveries_for_user(request.user)
        .filter(tenant=tenant)
        .select_related("endpoint", "execution")
        .order_by("-created_at", "-id")[:DELIVERIES_SHOWN]
    )
    context = {"endpoints": endpoints, "deliveries": deliveries, "errors": {}, "typed": {}, **extra}
    return render(request, "executions/webhooks.html", context, status=400 if extra.get("errors") else 200)


@portal_view
@require_GET
def webhook_settings(request: HttpRequest) -> HttpResponse:
    return _webhooks_page(request)


@portal_view
@require_POST
def webhook_create(request: HttpRequest) -> HttpResponse:
    """Add an endpoint; its secret is shown on this response only."""
    tenant = _tenant(request)
    require_editor(request, tenant.pk)
    typed = {"url": request.POST.get("url", "").strip(), "description": request.POST.get("description", "").strip()}
    try:
        created = endpoint_create(tenant, typed["url"], description=typed["description"])
    except ValidationError as error:
        return _webhooks_page(request, errors=error.message_dict, typed=typed)
    return _webhooks_page(request, secret=created.secret, secret_endpoint=created.endpoint)


@portal_view
@require_POST
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    tenant = _tenant(request)
    require_editor(request, tenant.pk)
    endpoint = _endpoint_for_request(request, endpoint_id)
    secret = endpoint_rotate_secret(endpoint)
    return _webhooks_page(request, secret=secret, secret_endpoint=endpoint, rotated=True)


@portal_view
@require_POST
def webhook_redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    tenant = _tenant(request)
    require_editor(request, tenant.pk)
    delivery: WebhookDelivery | None = deliveries_for_user(request.user).filter(tenant=tenant, pk=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        delivery_redeliver(delivery)
        messages.success(request, f"Delivery #{delivery.pk} will be sent again.")
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    return redirect("executions:webhooks")
