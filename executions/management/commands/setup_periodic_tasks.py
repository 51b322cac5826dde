"""Create or update the fixed Celery beat entries (idempotent); they then show in the admin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from executions.listeners.beat import ensure_listener_periodic_tasks


class Command(BaseCommand):
    help = "Create or update the Celery beat entries of the listener ticks (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        for task in ensure_listener_periodic_tasks():
            schedule = task.crontab
            self.stdout.write(
                f"{task.name}: {task.task} at minute {schedule.minute} UTC, expires {task.expire_seconds}s"
            )
