"""The settings a Django project needs to run the service inside it, in one call (docs/embedding.md).

In the host project's settings module, after its own ``INSTALLED_APPS``, ``TEMPLATES`` and so on::

    from automations.embedding import service_settings

    AUTOMATIONS = {"MODEL_EVENTS": {"shop.Product": {"post_save": "product_added", "tenant": "shop.tenancy.tenant_of"}}}
    globals().update(service_settings(globals()))

``service_settings`` returns new values for the project's settings and never drops one of the project's
choices: the service's apps are appended to ``INSTALLED_APPS`` where missing, the portal's context processor
to the first Django template engine, and every ``CELERY_*`` and ``REST_FRAMEWORK`` key the project has not
set gets the service's value. This repository's own settings (``config/settings/base.py``) use the same
queues and routes; tests/automations/test_embedding.py keeps the rest of its values equal to these.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# The service's apps after the third-party apps they use; "executions.demo" (the demo store) is left out.
SERVICE_APPS: tuple[str, ...] = (
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "governance",
    "automations",
    "executions",
)

# The portal's header: the user's tenants, the current one and the navigation with its counts.
PORTAL_CONTEXT_PROCESSOR = "executions.context_processors.portal"

# Queues: events (matching), executions (conditions, governance and the first action attempt), actions
# (approved and retried actions), health (the readiness canary only, so a backlog never delays it), backlog
# (with AUTOMATIONS["BACKLOG_LANE"] on: the matching of tenants with a backlog, for a worker of its own at a
# lower CPU priority, docs/pipeline.md). Tasks name themselves; routes pin each name to its queue. A worker
# consumes the first four (executions.worker.QUEUES).
TASK_QUEUES: dict[str, dict[str, str]] = {
    "events": {"exchange": "events", "routing_key": "events"},
    "executions": {"exchange": "executions", "routing_key": "executions"},
    "actions": {"exchange": "actions", "routing_key": "actions"},
    "health": {"exchange": "health", "routing_key": "health"},
    "backlog": {"exchange": "backlog", "routing_key": "backlog"},
}
TASK_ROUTES: dict[str, dict[str, str]] = {
    "executions.match_event": {"queue": "events", "routing_key": "events"},
    "executions.match_events": {"queue": "events", "routing_key": "events"},
    "executions.match_backlog": {"queue": "backlog", "routing_key": "backlog"},
    "executions.run_execution": {"queue": "executions", "routing_key": "executions"},
    "executions.run_executions": {"queue": "executions", "routing_key": "executions"},
    "executions.run_action": {"queue": "actions", "routing_key": "actions"},
    "executions.sweep_*": {"queue": "executions", "routing_key": "executions"},
    "executions.send_delivery": {"queue": "actions", "routing_key": "actions"},
    "executions.send_due_deliveries": {"queue": "executions", "routing_key": "executions"},
    "executions.prune_history": {"queue": "executions", "routing_key": "executions"},
    "executions.fold_delivery_rollups": {"queue": "executions", "routing_key": "executions"},
    "executions.send_failure_digests": {"queue": "executions", "routing_key": "executions"},
    "executions.health_canary": {"queue": "health", "routing_key": "health"},
}

# What the pipeline relies on (docs/pipeline.md): late acknowledgement behind guarded claims, one message per
# worker process, task time limits far below Redis' visibility timeout and the execution lease, JSON only,
# no results, a bounded publish retry (the outbox sweeper does the rest) and beat's entries in the database.
CELERY_SETTINGS: dict[str, Any] = {
    "CELERY_TASK_DEFAULT_QUEUE": "executions",
    "CELERY_TASK_QUEUES": TASK_QUEUES,
    "CELERY_TASK_ROUTES": TASK_ROUTES,
    "CELERY_TASK_ACKS_LATE": True,
    "CELERY_TASK_REJECT_ON_WORKER_LOST": True,
    "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
    # Celery's Django fixup closes every connection around each task unless this is set (config/settings/base.py).
    "CELERY_DB_REUSE_MAX": 1000,
    "CELERY_TASK_SOFT_TIME_LIMIT": 40,
    "CELERY_TASK_TIME_LIMIT": 50,
    "CELERY_TASK_IGNORE_RESULT": True,
    "CELERY_TASK_SERIALIZER": "json",
    "CELERY_ACCEPT_CONTENT": ["json"],
    "CELERY_TASK_PUBLISH_RETRY": True,
    "CELERY_TASK_PUBLISH_RETRY_POLICY": {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
    "CELERY_BROKER_CONNECTION_TIMEOUT": 2,
    "CELERY_BEAT_SCHEDULER": "django_celery_beat.schedulers:DatabaseScheduler",
}

# The API's authentication (tokens, the portal's session, Basic), JSON only, its filters, throttling and
# error shapes (docs/api.md).
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.api.authentication.BearerOrTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["governance.common.api_parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["governance.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": "1200/minute"},
    "EXCEPTION_HANDLER": "governance.common.api_errors.api_exception_handler",
    "NUM_PROXIES": 0,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}


# Settings of the service's own that live at the top level of the project's settings (docs/settings.md,
# docs/operations.md): the probes, the metrics scrape, the API docs, the request size limit, lock waits.
PROJECT_DEFAULTS: dict[str, Any] = {
    "READYZ_CANARY_SECONDS": 5.0,
    "READYZ_BEAT_MAX_AGE_SECONDS": 600.0,
    "METRICS_TOKEN": "",
    "METRICS_ALLOW_LOOPBACK": False,
    "API_DOCS_PUBLIC": False,
    "API_MAX_REQUEST_BYTES": 256 * 1024,
    "DATABASE_LOCK_TIMEOUT": 5.0,
}

# The API throttle's counters (governance.api.throttling); per process unless the project shares one.
THROTTLE_CACHE: dict[str, str] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}


def service_settings(project: Mapping[str, Any]) -> dict[str, Any]:
    """The settings to add to ``project`` (a settings module's ``globals()``) for the service to run.

    1. ``INSTALLED_APPS``: the project's, then each of ``SERVICE_APPS`` it lacks.
    2. ``TEMPLATES``: the first Django engine also runs ``PORTAL_CONTEXT_PROCESSOR`` and finds app templates.
    3. ``CELERY_*`` and the ``PROJECT_DEFAULTS``: each the project has not set.
    4. ``REST_FRAMEWORK``: each of its keys the project's dict lacks; ``CACHES``: a ``throttle`` cache if none.
    """
    apps = list(project.get("INSTALLED_APPS", []))
    values: dict[str, Any] = {"INSTALLED_APPS": apps + [app for app in SERVICE_APPS if app not in apps]}

    templates = copy.deepcopy(list(project.get("TEMPLATES", [])))
    engines = [engine for engine in templates if engine.get("BACKEND", "").endswith("DjangoTemplates")]
    if not engines:
        engines = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": []}]
        templates.append(engines[0])
    engine = engines[0]
    if not engine.get("OPTIONS", {}).get("loaders"):
        engine["APP_DIRS"] = True
    processors = engine.setdefault("OPTIONS", {}).setdefault("context_processors", [])
    for name in ("django.template.context_processors.request", PORTAL_CONTEXT_PROCESSOR):
        if name not in processors:
            processors.append(name)
    values["TEMPLATES"] = templates

    defaults = {**CELERY_SETTINGS, **PROJECT_DEFAULTS}
    values.update({name: copy.deepcopy(value) for name, value in defaults.items() if name not in project})
    values["REST_FRAMEWORK"] = {**copy.deepcopy(REST_FRAMEWORK), **dict(project.get("REST_FRAMEWORK", {}))}
    caches = dict(project.get("CACHES") or {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
    caches.setdefault("throttle", dict(THROTTLE_CACHE))
    values["CACHES"] = caches
    return values
