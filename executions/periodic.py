"""The periodic (beat) entries of the project: one entry per check, never one per rule.

``setup_periodic_tasks`` (a management command, run by ``make run`` and in production after
``migrate``) creates or updates each entry as a django-celery-beat ``PeriodicTask`` so it shows in
the admin. Other apps add theirs with ``register_periodic_task`` (e.g. schedules every minute,
thresholds every 5, behaviours every 10). Every entry expires shortly before its next run, so a
backlog after an outage does not pile up copies of the same sweep.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicEntry:
    name: str
    task: str
    every_seconds: int
    queue: str = "executions"

    @property
    def expire_seconds(self) -> int:
        return max(1, int(self.every_seconds * 0.9))


PERIODIC_TASKS: dict[str, PeriodicEntry] = {}


def register_periodic_task(entry: PeriodicEntry) -> PeriodicEntry:
    """Add (or replace, by name) a beat entry that setup_periodic_tasks creates."""
    PERIODIC_TASKS[entry.name] = entry
    return entry


register_periodic_task(PeriodicEntry("executions: sweep the outbox", "executions.sweep_outbox", every_seconds=30))
register_periodic_task(PeriodicEntry("executions: reclaim expired leases", "executions.sweep_leases", every_seconds=30))
# Every minute, expiring after 54 s: retries and lost claims of webhook deliveries (docs/webhooks.md).
register_periodic_task(
    PeriodicEntry("executions: send due webhook deliveries", "executions.send_due_deliveries", every_seconds=60)
)


def setup_periodic_tasks() -> list[str]:
    """Create or update every registered entry; returns their names. Safe to run again."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    names = []
    for entry in PERIODIC_TASKS.values():
        interval, _ = IntervalSchedule.objects.get_or_create(every=entry.every_seconds, period=IntervalSchedule.SECONDS)
        # ``enabled`` is set only on creation: an entry an admin turned off stays off.
        PeriodicTask.objects.update_or_create(
            name=entry.name,
            defaults={
                "task": entry.task,
                "interval": interval,
                "crontab": None,
                "queue": entry.queue,
                "routing_key": entry.queue,
                "exchange": entry.queue,
                "expire_seconds": entry.expire_seconds,
            },
            create_defaults={
                "task": entry.task,
                "interval": interval,
                "queue": entry.queue,
                "routing_key": entry.queue,
                "exchange": entry.queue,
                "expire_seconds": entry.expire_seconds,
                "enabled": True,
            },
        )
        names.append(entry.name)
    PeriodicTasks.update_changed()
    return names
