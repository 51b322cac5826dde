"""The base of every API viewset: throttling runs before permission checks."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, viewsets
from rest_framework.request import Request


class ApiViewSet(viewsets.GenericViewSet):
    """DRF checks permissions before throttles, so unauthenticated requests and bad tokens are never
    throttled: token guessing would be free. Here a failed authentication is still counted (per
    client address) and every request is throttled before its permissions are checked."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self.perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)
            raise
        self.check_throttles(request)
        self.check_permissions(request)
