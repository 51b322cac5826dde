"""System checks: the timing invariants late acknowledgement depends on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_pipeline_timing(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Hard time limit < execution lease < Redis visibility timeout (RELIABILITY-NOTES 1.2)."""
    problems: list[Any] = []
    hard = getattr(settings, "CELERY_TASK_TIME_LIMIT", None)
    soft = getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", None)
    lease = settings.AUTOMATIONS_EXECUTION_LEASE_SECONDS
    visibility = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}).get("visibility_timeout")
    if hard is None or soft is None:
        problems.append(Error("set CELERY_TASK_SOFT_TIME_LIMIT and CELERY_TASK_TIME_LIMIT", id="executions.E001"))
        return problems
    if soft >= hard:
        problems.append(Error("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT", id="executions.E002"))
    if hard >= lease:
        problems.append(
            Warning(
                "CELERY_TASK_TIME_LIMIT should be below AUTOMATIONS_EXECUTION_LEASE_SECONDS, or a slow action "
                "may be reclaimed while it still runs",
                id="executions.W001",
            )
        )
    if visibility is not None and lease * 10 > visibility:
        problems.append(
            Warning(
                "AUTOMATIONS_EXECUTION_LEASE_SECONDS should be far below the broker's visibility_timeout",
                id="executions.W002",
            )
        )
    return problems
