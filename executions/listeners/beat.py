"""The fixed beat entries of the listeners: three ticks, never one entry per rule."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks


@dataclass(frozen=True)
class BeatEntry:
    name: str
    task: str
    minute: str  # crontab minute field, in UTC
    expire_seconds: int  # a tick not started by then is dropped; the next one covers it
    description: str


LISTENER_BEAT_ENTRIES: tuple[BeatEntry, ...] = (
    BeatEntry("automations: check schedules", "executions.check_schedules", "*", 55, "Fire due schedule slots."),
    BeatEntry(
        "automations: check thresholds",
        "executions.check_thresholds",
        "*/5",
        290,
        "Evaluate threshold rules (pull providers, for_minutes).",
    ),
    BeatEntry(
        "automations: check behaviours",
        "executions.check_behaviors",
        "*/10",
        590,
        "Match customers to behaviour rules.",
    ),
)


@transaction.atomic
def ensure_periodic_tasks(entries: tuple[BeatEntry, ...]) -> list[PeriodicTask]:
    """Create or update the given beat entries (idempotent); ``enabled`` set in the admin is kept."""
    tasks = []
    for entry in entries:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=entry.minute, hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        wanted = {
            "task": entry.task,
            "crontab": crontab,
            "interval": None,
            "expire_seconds": entry.expire_seconds,
            "description": entry.description,
        }
        task = PeriodicTask.objects.filter(name=entry.name).first()
        if task is None:
            task = PeriodicTask(name=entry.name, enabled=True, **wanted)
            task.save()
        elif any(getattr(task, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(task, key, value)
            task.save()
        tasks.append(task)
    PeriodicTasks.update_changed()
    return tasks


def ensure_listener_periodic_tasks() -> list[PeriodicTask]:
    """The schedule (1 min), threshold (5 min) and behaviour (10 min) ticks."""
    return ensure_periodic_tasks(LISTENER_BEAT_ENTRIES)
