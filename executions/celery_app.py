"""The project's Celery app: the one the pipeline publishes with, the canary pings and the worker runs.

Whatever project the apps live in (this repository's ``config/celery.py``, or a host's, docs/embedding.md)
creates its app while Django loads its settings, as Celery's Django guide does, and that app is Celery's
current app when the apps become ready. ``remember_project_app()`` keeps it then.

TRICKY: Celery's ``current_app`` is per thread. The dispatcher publishes from a thread of its own and web
requests may run in threads too; there it would be a fresh, unconfigured ``default`` app. So nothing here
asks ``current_app`` after start-up.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.app import app_or_default
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

_project_app: Celery | None = None


def remember_project_app() -> None:
    """Keep the current Celery app as the project's (``ExecutionsConfig.ready()``, on the main thread)."""
    global _project_app
    _project_app = app_or_default()


def celery_app() -> Celery:
    """The project's Celery app (the current one where ``ready()`` has not run yet)."""
    return _project_app if _project_app is not None else app_or_default()


@task_prerun.connect(dispatch_uid="executions.celery_app.database_before_task")
@task_postrun.connect(dispatch_uid="executions.celery_app.database_after_task")
def close_old_database_connections(sender: Any = None, **_: Any) -> None:
    """Around each task a worker runs, what Django does around a request: close the database connections
    that are broken or older than ``CONN_MAX_AGE`` (0: all), so the others are reused by the next task.

    Celery's own clean-up closes them all only every ``CELERY_DB_REUSE_MAX`` tasks (config/settings/base.py).
    A task run eagerly (tests, ``CELERY_TASK_ALWAYS_EAGER``) runs inside its caller's request or
    transaction: its connections are the caller's to manage.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
