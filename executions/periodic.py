"""The project's one registry of periodic (beat) entries: one entry per check, never one per rule.

``setup_periodic_tasks`` (a management command, run by ``make run`` and in production after
``migrate``) creates or updates each registered entry as a django-celery-beat ``PeriodicTask``, so it
shows in the admin. An entry runs every ``every_seconds`` or at a crontab ``minute`` of every hour (UTC),
and expires shortly before its next run, so a backlog after an outage does not pile up copies of the
same check. Other apps add theirs with ``register_periodic_task``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from executions import task_names

if TYPE_CHECKING:
    from django_celery_beat.models import PeriodicTask


@dataclass(frozen=True)
class PeriodicEntry:
    """One beat entry: either ``every_seconds`` (an interval) or ``minute`` (a crontab minute field, UTC).

    ``expire_seconds``: a run not started by then is dropped, the next one covers it; an interval entry
    defaults to 90% of its interval, a crontab entry names it. ``queue``: the queue beat sends to (None:
    the task's route in CELERY_TASK_ROUTES decides). ``enabled`` is not here: it is the admin's.
    """

    name: str
    task: str
    every_seconds: int | None = None
    minute: str | None = None
    expire_seconds: int | None = None
    queue: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if (self.every_seconds is None) == (self.minute is None):
            raise ValueError(f"{self.name}: give every_seconds or minute, not both or neither")
        if self.expire_seconds is None:
            if self.every_seconds is None:
                raise ValueError(f"{self.name}: a crontab entry needs expire_seconds")
            object.__setattr__(self, "expire_seconds", max(1, int(self.every_seconds * 0.9)))

    @property
    def schedule_text(self) -> str:
        return f"every {self.every_seconds} s" if self.every_seconds is not None else f"at minute {self.minute} UTC"


PERIODIC_TASKS: dict[str, PeriodicEntry] = {}


def register_periodic_task(entry: PeriodicEntry) -> PeriodicEntry:
    """Add (or replace, by name) an entry that ``setup_periodic_tasks`` creates."""
    PERIODIC_TASKS[entry.name] = entry
    return entry


# The pipeline's sweepers (docs/pipeline.md); deliveries every minute: retries and lost claims (docs/webhooks.md).
register_periodic_task(
    PeriodicEntry(
        "executions: sweep the outbox",
        task_names.SWEEP_OUTBOX,
        every_seconds=30,
        queue="executions",
    )
)
register_periodic_task(
    PeriodicEntry(
        "executions: reclaim expired leases",
        task_names.SWEEP_LEASES,
        every_seconds=30,
        queue="executions",
    )
)
register_periodic_task(
    PeriodicEntry(
        "executions: send due webhook deliveries",
        task_names.SEND_DUE_DELIVERIES,
        every_seconds=60,
        queue="executions",
    )
)
# The listeners' ticks (docs/listeners.md).
register_periodic_task(
    PeriodicEntry(
        "automations: check schedules",
        task_names.CHECK_SCHEDULES,
        minute="*",
        expire_seconds=55,
        description="Fire due schedule slots.",
    )
)
register_periodic_task(
    PeriodicEntry(
        "automations: check thresholds",
        task_names.CHECK_THRESHOLDS,
        minute="*/5",
        expire_seconds=290,
        description="Evaluate threshold rules (pull providers, for_minutes).",
    )
)
register_periodic_task(
    PeriodicEntry(
        "automations: check behaviours",
        task_names.CHECK_BEHAVIORS,
        minute="*/10",
        expire_seconds=590,
        description="Match customers to behaviour rules.",
    )
)

# History retention (executions/services/history.py).
register_periodic_task(
    PeriodicEntry(
        "executions: prune old history",
        task_names.PRUNE_HISTORY,
        minute="17",
        expire_seconds=3000,
        queue="executions",
        description=(
            "Delete executions past each tenant's execution_retention_days (roll-ups stay), and events and "
            "metric samples older than AUTOMATIONS['HISTORY_RETENTION_DAYS']."
        ),
    )
)
register_periodic_task(
    PeriodicEntry(
        "executions: send failure digests",
        task_names.SEND_FAILURE_DIGESTS,
        minute="0",
        expire_seconds=3000,
        queue="executions",
        description="Hourly email digest of failing rules, for tenants whose failure_messages is hourly_digest.",
    )
)

# The dashboard's webhook figures (executions/delivery/rollups.py): at most this far behind the deliveries.
register_periodic_task(
    PeriodicEntry(
        "executions: fold webhook delivery roll-ups",
        task_names.FOLD_DELIVERY_ROLLUPS,
        minute="*/5",
        expire_seconds=290,
        queue="executions",
        description="Recount recent webhook deliveries per endpoint and day for the dashboard.",
    )
)


@transaction.atomic
def setup_periodic_tasks() -> list[PeriodicTask]:
    """Create or update every registered entry, in registration order; safe to run again.

    Task, schedule, expiry, queue and description follow the entry; ``enabled`` is set only on
    creation, so an entry an admin turned off stays off. A row already as wanted is not saved.
    """
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

    tasks = []
    for entry in PERIODIC_TASKS.values():
        interval = crontab = None
        if entry.every_seconds is not None:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=entry.every_seconds, period=IntervalSchedule.SECONDS
            )
        else:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=entry.minute, hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
            )
        wanted = {
            "task": entry.task,
            "interval": interval,
            "crontab": crontab,
            "expire_seconds": entry.expire_seconds,
            "queue": entry.queue,
            "exchange": entry.queue,
            "routing_key": entry.queue,
            "description": entry.description,
        }
        task = PeriodicTask.objects.select_related("interval", "crontab").filter(name=entry.name).first()
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
