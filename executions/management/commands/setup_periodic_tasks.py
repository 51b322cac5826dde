"""Create or update every fixed Celery beat entry (idempotent); they then show in the admin.

The pipeline's sweepers (``executions.periodic``) and the listener ticks (``executions.listeners.beat``):
one entry per check, never one per rule, each expiring shortly before its next run.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from executions.listeners.beat import ensure_listener_periodic_tasks
from executions.periodic import setup_periodic_tasks


class Command(BaseCommand):
    help = "Create or update the Celery beat entries: sweepers and listener ticks (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name in setup_periodic_tasks():
            self.stdout.write(f"periodic task ready: {name}")
        for task in ensure_listener_periodic_tasks():
            schedule = task.crontab
            self.stdout.write(
                f"{task.name}: {task.task} at minute {schedule.minute} UTC, expires {task.expire_seconds}s"
            )
