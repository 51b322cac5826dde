"""The OpenAPI schema and the docs pages built from it: signed-in users only, unless API_DOCS_PUBLIC.

An anonymous request for the schema answers 401 like any API call; the HTML pages (Swagger UI, Redoc)
send the visitor to the login page and back.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class ApiDocsPermission(BasePermission):
    """Signed in (session, token or Basic), or the operator made the docs public."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


class ApiSchemaView(SpectacularAPIView):
    permission_classes = [ApiDocsPermission]


class LoginRedirectMixin(APIView):
    """For HTML pages: no or bad credentials send the browser to the login page instead of a 401."""

    # DRF finalizes any HttpResponseBase a handler returns; the stubs say Response.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)


class ApiSwaggerView(LoginRedirectMixin, SpectacularSwaggerView):
    permission_classes = [ApiDocsPermission]
