"""The demo receiver (the demo tenant's webhook endpoint) and the portal's "Demo store" page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from executions.demo.selectors import (
    demo_items_by_kind,
    demo_metric_series,
    demo_recent_commands,
    demo_store_for_tenant,
)
from executions.demo.store import demo_command_receive
from governance.models import Tenant
from governance.portal import portal_view

CHART_WIDTH, CHART_HEIGHT = 300, 60


@csrf_exempt  # a webhook: its signature authenticates it, not a session
@require_POST
def demo_receiver(request: HttpRequest, tenant_id: str) -> HttpResponse:
    answer = demo_command_receive(tenant_id, dict(request.headers), request.body)
    return JsonResponse({"outcome": answer.outcome, "message": answer.message}, status=answer.status)


@portal_view
@require_GET
def demo_store_page(request: HttpRequest) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    store = demo_store_for_tenant(tenant.pk)
    context: dict[str, Any] = {"store": store}
    if store is not None:
        context.update(
            kinds=demo_items_by_kind(store),
            commands=demo_recent_commands(store),
            charts=[_sparkline(metric, values) for metric, values in demo_metric_series(store).items()],
        )
    return render(request, "demo_store/store.html", context)


def _sparkline(metric: str, values: list[float]) -> dict[str, Any]:
    """An SVG polyline of ``values`` scaled into the chart box, with the latest value."""
    low, high = min(values, default=0.0), max(values, default=0.0)
    span = (high - low) or 1.0
    step = CHART_WIDTH / max(len(values) - 1, 1)
    points = " ".join(
        f"{round(index * step, 1)},{round(CHART_HEIGHT - 4 - (value - low) / span * (CHART_HEIGHT - 8), 1)}"
        for index, value in enumerate(values)
    )
    return {
        "metric": metric,
        "points": points,
        "count": len(values),
        "latest": values[-1] if values else None,
        "low": low,
        "high": high,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
    }
