"""Create or update every registered Celery beat entry (idempotent); they then show in the admin.

The entries are ``executions.periodic.PERIODIC_TASKS``: the pipeline's sweepers and the listener ticks,
one entry per check, never one per rule, each expiring shortly before its next run.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from executions.periodic import PERIODIC_TASKS, setup_periodic_tasks


class Command(BaseCommand):
    help = "Create or update the Celery beat entries: sweepers and listener ticks (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        for task in setup_periodic_tasks():
            entry = PERIODIC_TASKS[task.name]
            self.stdout.write(f"{task.name}: {task.task} {entry.schedule_text}, expires {task.expire_seconds}s")
