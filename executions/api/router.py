"""Every /api/ route. Paths answer with and without a trailing slash."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from executions.api.analytics import AnalyticsViewSet
from executions.api.metrics import MetricSampleViewSet
from executions.api.rules import AutomationViewSet
from executions.api.views import ApprovalViewSet, AutomationExecutionViewSet, EventViewSet, NotificationViewSet
from executions.api.webhooks import WebhookEndpointViewSet
from governance.common.api_docs import ApiSchemaView, ApiSwaggerView


class OptionalSlashRouter(DefaultRouter):
    """Routes that match with and without a trailing slash (no redirect, so POST bodies survive)."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("automations", AutomationViewSet, basename="automation")
router.register("executions", AutomationExecutionViewSet, basename="execution")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("metrics", MetricSampleViewSet, basename="metric")
router.register("events", EventViewSet, basename="event")
router.register("approvals", ApprovalViewSet, basename="approval")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("analytics", AnalyticsViewSet, basename="analytics")


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


app_name = "api"
urlpatterns = [
    # Signed-in users only unless API_DOCS_PUBLIC (governance/common/api_docs.py).
    path("schema/", ApiSchemaView.as_view(), name="schema"),
    path("schema", ApiSchemaView.as_view()),
    path("docs/", ApiSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("docs", ApiSwaggerView.as_view(url_name="api:schema")),
    *router.urls,
    # Last: any other /api/ path is a JSON 404, with DEBUG on too (Django's debug 404 page is HTML).
    re_path(r"^.*$", api_not_found),
]


def schema_preprocessing_hook(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """Document the API operations only: not the schema and docs views, nor the router's root view."""
    kept = []
    for path_, path_regex, method, callback in endpoints:
        if not path_.startswith("/api/") or path_.startswith(("/api/schema", "/api/docs", "/api/redoc")):
            continue
        if path_ in ("/api/", "/api"):
            continue
        kept.append((path_, path_regex, method, callback))
    return kept


ERROR_RESPONSES = {
    "400": "Invalid input: field names (nested paths such as trigger_config.time) map to messages.",
    "401": "No or invalid credentials.",
    "403": "Your role in the tenant does not allow this.",
    "404": "No such object in your tenants.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "413": "Request body too large.",
    "409": "Conflict: the execution was already decided or is not awaiting approval.",
    "415": "Unsupported media type (send application/json).",
    "429": "Too many requests for this token.",
}


def schema_postprocessing_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Document the JSON error answers every operation can give."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "description": "An error: {'detail': message} or, for 400, field paths mapped to messages.",
        "properties": {"detail": {"type": "string"}},
        "additionalProperties": True,
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    too_long = {"description": "Request line and headers over 64 KiB: refused by the web server, no body."}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, description in ERROR_RESPONSES.items():
                operation["responses"].setdefault(code, {"description": description, "content": error})
            operation["responses"].setdefault("431", too_long)
    return result
