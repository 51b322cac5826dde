"""The project's Celery app: the one the pipeline publishes with, the canary pings and the worker runs.

Whatever project the apps live in (this repository's ``config/celery.py``, or a host's, docs/embedding.md)
creates its app while Django loads its settings, as Celery's Django guide does, and that app is Celery's
current app when the apps become ready. ``remember_project_app()`` keeps it then.

TRICKY: Celery's ``current_app`` is per thread. The dispatcher publishes from a thread of its own and web
requests may run in threads too; there it would be a fresh, unconfigured ``default`` app. So nothing here
asks ``current_app`` after start-up.
"""

from __future__ import annotations

from celery import Celery
from celery.app import app_or_default

_project_app: Celery | None = None


def remember_project_app() -> None:
    """Keep the current Celery app as the project's (``ExecutionsConfig.ready()``, on the main thread)."""
    global _project_app
    _project_app = app_or_default()


def celery_app() -> Celery:
    """The project's Celery app (the current one where ``ready()`` has not run yet)."""
    return _project_app if _project_app is not None else app_or_default()
