"""Which requests are API requests (answered in JSON), for the error handlers and the lock-timeout answer."""

from __future__ import annotations

from django.http import HttpRequest

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")
