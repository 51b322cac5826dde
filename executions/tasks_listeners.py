"""Celery wrappers of the listener checks; beat entries are made by ``setup_periodic_tasks``.

Each tick is idempotent (claims by compare-and-set and unique rows), so a duplicate beat or a
redelivered message only wastes a pass. ``expires`` on the beat entries drops ticks that waited
longer than their interval instead of piling them up.
"""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from executions import task_names
from executions.listeners.behavior import check_behaviors
from executions.listeners.schedule import check_schedules
from executions.listeners.threshold import check_metric_thresholds, check_thresholds


@shared_task(name=task_names.CHECK_SCHEDULES, ignore_result=True, soft_time_limit=50, time_limit=60)
def check_schedules_task() -> dict[str, int]:
    """Fire the due schedule slots (every minute)."""
    return asdict(check_schedules())


@shared_task(name=task_names.CHECK_THRESHOLDS, ignore_result=True, soft_time_limit=240, time_limit=280)
def check_thresholds_task() -> dict[str, int]:
    """Evaluate every enabled threshold rule (every five minutes)."""
    return asdict(check_thresholds())


@shared_task(name=task_names.CHECK_METRIC_THRESHOLDS, ignore_result=True, soft_time_limit=30, time_limit=60)
def check_metric_thresholds_task(tenant_id: str, metric: str) -> dict[str, int]:
    """Evaluate one tenant's rules on ``metric`` right after samples for it were pushed."""
    return asdict(check_metric_thresholds(tenant_id, metric))


@shared_task(name=task_names.CHECK_BEHAVIORS, ignore_result=True, soft_time_limit=540, time_limit=580)
def check_behaviors_task() -> dict[str, int]:
    """Match customers to behaviour rules (every ten minutes)."""
    return asdict(check_behaviors())
