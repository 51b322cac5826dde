"""JSON errors for the API: the DRF exception handler, Django's 400/404/500 handlers, a size limit.

Nothing under /api/ answers with HTML or a traceback: unexpected exceptions are logged with their
traceback and answered ``500 {"detail": "Internal server error."}``; a database lock timeout is no bug
and answers ``503`` with ``Retry-After`` (governance/common/db_locks.py).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from governance.common.api_paths import is_api_request
from governance.common.db_locks import LOCK_DETAIL, caused_by_lock_timeout, lock_timeout_response, retry_after_seconds

logger = logging.getLogger("config.api")

PLAIN_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_\-]+$")


def nest_error_paths(errors: dict[str, list[str]]) -> dict[str, Any]:
    """Turn flat validator paths into the API's error shape.

    ``trigger_config.time`` nests as ``{"trigger_config": {"time": [...]}}``; a path stops nesting
    at its first list index, so ``conditions[2].operator`` stays one key and
    ``action_config.recipients[0]`` becomes ``{"action_config": {"recipients[0]": [...]}}``.
    """
    nested: dict[str, Any] = {}
    for path, messages in errors.items():
        parts = path.split(".") if path else ["non_field_errors"]
        keys: list[str] = []
        for index, part in enumerate(parts):
            if not PLAIN_SEGMENT_RE.match(part):
                keys.append(".".join(parts[index:]))
                break
            keys.append(part)
        node = nested
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                # A field with its own messages and sub-field errors: keep both.
                child = {"non_field_errors": child} if isinstance(child, list) else {}
                node[key] = child
            node = child
        leaf = node.get(keys[-1])
        if isinstance(leaf, dict):
            leaf.setdefault("non_field_errors", []).extend(messages)
        else:
            node[keys[-1]] = [*(leaf or []), *messages]
    return nested


def django_validation_detail(error: DjangoValidationError) -> Any:
    paths = getattr(error, "paths", None)  # a RuleValidationError: messages keyed by field path, as data
    if isinstance(paths, dict):
        return nest_error_paths(paths)
    if hasattr(error, "error_dict"):
        return {
            field if field != "__all__" else "non_field_errors": messages
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": error.messages}


class TooManyRequests(Exception):
    """A service's refusal that a later retry may pass (a tenant's quota): the API answers 429 with
    ``Retry-After``. ``detail``: the reason in words; ``retry_after``: whole seconds to wait."""

    detail: str
    retry_after: int


def too_many_requests(exc: TooManyRequests) -> tuple[dict[str, Any], int]:
    """The 429's JSON body and its Retry-After seconds, as DRF's throttle words them (one shape for the
    DRF view and the lean ingestion path)."""
    throttled = exceptions.Throttled(wait=exc.retry_after, detail=exc.detail)
    return {"detail": str(throttled.detail)}, int(exc.retry_after)


def _json_error(status_code: int, detail: Any) -> Response:
    return Response(detail if isinstance(detail, dict) else {"detail": detail}, status=status_code)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, plus Django's ValidationError as 400, PermissionDenied (the policy's refusal, with
    its reason) as 403, oversize bodies as 413, a quota's refusal as 429, a lock timeout as 503 and a
    JSON 500."""
    if isinstance(exc, DjangoValidationError):
        return _json_error(status.HTTP_400_BAD_REQUEST, django_validation_detail(exc))
    if isinstance(exc, RequestDataTooBig):
        return _json_error(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "Request body too large.")
    if isinstance(exc, SuspiciousOperation):
        return _json_error(status.HTTP_400_BAD_REQUEST, "Bad request.")
    if isinstance(exc, DjangoPermissionDenied):
        # The permission policy's refusal, raised in a service: its reason is the answer.
        return _json_error(status.HTTP_403_FORBIDDEN, str(exc) or "You do not have permission to perform this action.")
    if isinstance(exc, TooManyRequests):
        body, wait = too_many_requests(exc)
        response = Response(body, status=status.HTTP_429_TOO_MANY_REQUESTS)
        response["Retry-After"] = str(wait)
        return response
    if caused_by_lock_timeout(exc):
        logger.warning("database lock timeout, answered 503: %s", exc)
        response = _json_error(status.HTTP_503_SERVICE_UNAVAILABLE, LOCK_DETAIL)
        response["Retry-After"] = str(retry_after_seconds())
        return response
    handled = exception_handler(exc, context)
    if handled is not None:
        if isinstance(exc, exceptions.ValidationError) and isinstance(handled.data, list):
            handled.data = {"non_field_errors": handled.data}
        return handled
    view = context.get("view")
    logger.exception("Unhandled error in %s", type(view).__name__ if view else "API view", exc_info=exc)
    return _json_error(status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error.")


def json_or_default_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if caused_by_lock_timeout(exception):  # a session save that met a lock (SessionInterrupted)
        return lock_timeout_response(request)
    if is_api_request(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception or SuspiciousOperation())


def json_or_default_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception or DjangoPermissionDenied())


def json_or_default_csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/, Django's page elsewhere."""
    from django.views.csrf import csrf_failure

    if is_api_request(request):
        return JsonResponse({"detail": f"CSRF Failed: {reason}"}, status=403)
    return csrf_failure(request, reason)


def json_or_default_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception or Http404())


def json_or_default_500(request: HttpRequest) -> HttpResponse:
    if caused_by_lock_timeout(sys.exc_info()[1]):  # raised outside a view (a middleware): still no 500
        return lock_timeout_response(request)
    if is_api_request(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


class ApiRequestGuardMiddleware:
    """Refuse, before any view runs, API requests with bodies over ``API_MAX_REQUEST_BYTES`` (413)
    and with text the databases cannot store in the path or query string (400)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            limit = settings.API_MAX_REQUEST_BYTES
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
            if length > limit:
                return JsonResponse({"detail": f"Request body too large (limit {limit} bytes)."}, status=413)
            from governance.common.storable import text_problem

            for text in (request.path, *request.GET.keys(), *(v for _, vs in request.GET.lists() for v in vs)):
                problem = text_problem(text)
                if problem:
                    return JsonResponse({"detail": f"Bad request: {problem}"}, status=400)
        return self.get_response(request)
