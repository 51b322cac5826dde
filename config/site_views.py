"""The site's own small pages: the favicon, and the styled "not found" page for every non-API request.

Django answers an ``Http404`` with its handler404 (``governance.common.api_errors.json_or_default_404``: JSON under
/api/, ``templates/404.html`` elsewhere) only while DEBUG is off; with DEBUG on (``make run``'s local
settings) it shows its technical page listing the URL patterns. ``NotFoundPageMiddleware`` renders the
same styled page in both cases, so a missing rule looks the same on a developer's machine as in
production. Server errors keep Django's traceback page under DEBUG; with DEBUG off they get
``templates/500.html``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from governance.common.api_errors import json_or_default_404
from governance.common.api_paths import is_api_request

FAVICON = Path(settings.BASE_DIR) / "static" / "favicon.svg"


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    """The site's icon (an SVG), served by the app itself at /favicon.ico, where browsers look first."""
    return FileResponse(FAVICON.open("rb"), content_type="image/svg+xml")


def portal_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any /portal/ address no page answers: the styled 404 (not the technical list of URL patterns)."""
    raise Http404("No such page.")


class NotFoundPageMiddleware:
    """An ``Http404`` raised by a page's view renders ``templates/404.html`` (status 404), DEBUG or not."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Http404) or is_api_request(request):
            return None  # the API's errors are DRF's (JSON) already
        return json_or_default_404(request, exception)
