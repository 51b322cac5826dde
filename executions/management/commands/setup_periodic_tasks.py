"""Create or update the beat entries (sweepers and checks) in django-celery-beat's tables."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from executions.periodic import setup_periodic_tasks


class Command(BaseCommand):
    help = "Create or update the periodic tasks (one per check, with expires near the interval). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        for name in setup_periodic_tasks():
            self.stdout.write(f"periodic task ready: {name}")
