"""Browser-test fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

tests/conftest.py imports the fixtures, so any test can ask for ``page_for``.
Chromium is the system's (/usr/bin/chromium, installed by .ci/install-chromium); Playwright never
downloads a browser of its own. A missing Chromium skips locally and fails under CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.sessions.backends.db import SessionStore

from tests.services import missing_service

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "screenshots"
DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 375, "height": 800}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing_service(f"Chromium is not installed at {CHROMIUM} (run .ci/install-chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("the playwright package is not installed (pip install -r requirements.txt)")
    # TRICKY: Playwright's sync API runs an asyncio loop in this thread, and Django refuses ORM calls
    # from a thread with a running loop. The tests' own ORM calls are ordinary blocking calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def login_cookie(user: Any) -> dict[str, str]:
    """A session cookie for ``user``, made the way django.contrib.auth.login makes one."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The first backend that loads users, as Client.force_login picks it (the axes backend only checks).
    session[BACKEND_SESSION_KEY] = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key}


@pytest.fixture
def page_for(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """``page_for(user, viewport=DESKTOP)``: a new browser page, logged in as ``user`` when given."""
    contexts = []

    def open_page(user: Any = None, viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        if user is not None:
            cookie = login_cookie(user)
            context.add_cookies([{**cookie, "url": live_server.url}])
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
