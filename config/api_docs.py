"""The OpenAPI schema and the docs pages built from it: signed-in users only, unless API_DOCS_PUBLIC.

An anonymous request for the schema answers 401 like any API call; the HTML pages (Swagger UI, Redoc)
send the visitor to the login page and back.
"""

from __future__ import annotations

from csp.constants import SELF
from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
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


class LoginRedirectMixin:
    """For HTML pages: no or bad credentials send the browser to the login page instead of a 401."""

    request: Request

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)  # type: ignore[misc]


class ApiSwaggerView(LoginRedirectMixin, SpectacularSwaggerView):
    permission_classes = [ApiDocsPermission]


# TRICKY: Redoc's bundle injects perfect-scrollbar's stylesheet as an inline <style> when it loads, before
# Redoc.init can hand it the nonce, and styled-components starts one empty <style>: the page allows exactly
# those two by hash (a new drf-spectacular-sidecar may change the first; tests/config/test_csp.py then
# reports the new hash). Its search index runs in a worker made from a blob: URL, and its sidebar's
# "API docs by Redocly" link shows a logo from Redocly's CDN, hard-coded in the bundle: that one image is
# allowed by its exact URL (it is the only request the docs make off this site).
REDOC_LOGO_URL = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_POLICY = {
    "img-src": [REDOC_LOGO_URL],
    "style-src": [
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar.css
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # empty
    ],
    "worker-src": [SELF, "blob:"],
}


@method_decorator(csp_update(REDOC_POLICY), name="dispatch")
class ApiRedocView(LoginRedirectMixin, SpectacularRedocView):
    permission_classes = [ApiDocsPermission]
