"""The django-celery-beat rows ``setup_periodic_tasks`` makes, field by field.

Beat and the admin read these rows (their names and tasks are stored as text), so they are pinned here
exactly: one registry making them must come out with the same rows, in the same order, as before.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from executions.periodic import PeriodicEntry

SWEEPER = {"queue": "executions", "exchange": "executions", "routing_key": "executions", "description": ""}
TICK = {"queue": None, "exchange": None, "routing_key": None}
COMMON = {
    "solar": None,
    "clocked": None,
    "args": "[]",
    "kwargs": "{}",
    "headers": "{}",
    "priority": None,
    "expires": None,
    "one_off": False,
    "start_time": None,
    "enabled": True,
}

EXPECTED_ROWS = [
    {
        "name": "executions: sweep the outbox",
        "task": "executions.sweep_outbox",
        "interval": (30, "seconds"),
        "crontab": None,
        "expire_seconds": 27,
        **SWEEPER,
    },
    {
        "name": "executions: reclaim expired leases",
        "task": "executions.sweep_leases",
        "interval": (30, "seconds"),
        "crontab": None,
        "expire_seconds": 27,
        **SWEEPER,
    },
    {
        "name": "executions: send due webhook deliveries",
        "task": "executions.send_due_deliveries",
        "interval": (60, "seconds"),
        "crontab": None,
        "expire_seconds": 54,
        **SWEEPER,
    },
    {
        "name": "automations: check schedules",
        "task": "executions.check_schedules",
        "interval": None,
        "crontab": ("*", "*", "*", "*", "*", "UTC"),
        "expire_seconds": 55,
        "description": "Fire due schedule slots.",
        **TICK,
    },
    {
        "name": "automations: check thresholds",
        "task": "executions.check_thresholds",
        "interval": None,
        "crontab": ("*/5", "*", "*", "*", "*", "UTC"),
        "expire_seconds": 290,
        "description": "Evaluate threshold rules (pull providers, for_minutes).",
        **TICK,
    },
    {
        "name": "automations: check behaviours",
        "task": "executions.check_behaviors",
        "interval": None,
        "crontab": ("*/10", "*", "*", "*", "*", "UTC"),
        "expire_seconds": 590,
        "description": "Match customers to behaviour rules.",
        **TICK,
    },
    {
        "name": "executions: prune old history",
        "task": "executions.prune_history",
        "interval": None,
        "crontab": ("17", "*", "*", "*", "*", "UTC"),
        "expire_seconds": 3000,
        **SWEEPER,
        "description": (
            "Delete executions past each tenant's execution_retention_days (roll-ups stay), and events and "
            "metric samples older than AUTOMATIONS['HISTORY_RETENTION_DAYS']."
        ),
    },
    {
        "name": "executions: send failure digests",
        "task": "executions.send_failure_digests",
        "interval": None,
        "crontab": ("0", "*", "*", "*", "*", "UTC"),
        "expire_seconds": 3000,
        **SWEEPER,
        "description": "Hourly email digest of failing rules, for tenants whose failure_messages is hourly_digest.",
    },
    {
        "name": "executions: fold webhook delivery roll-ups",
        "task": "executions.fold_delivery_rollups",
        "interval": None,
        "crontab": ("*/5", "*", "*", "*", "*", "UTC"),
        "expire_seconds": 290,
        **SWEEPER,
        "description": "Recount recent webhook deliveries per endpoint and day for the dashboard.",
    },
]
EXPECTED_ROWS = [{**COMMON, **row} for row in EXPECTED_ROWS]


def beat_rows() -> list[dict]:
    """Every PeriodicTask row in creation order, its schedule spelled out (ids and run bookkeeping left out)."""
    rows = []
    for task in PeriodicTask.objects.select_related("interval", "crontab").order_by("id"):
        interval, crontab = task.interval, task.crontab
        rows.append(
            {
                "name": task.name,
                "task": task.task,
                "interval": (interval.every, interval.period) if interval else None,
                "crontab": (
                    crontab.minute,
                    crontab.hour,
                    crontab.day_of_week,
                    crontab.day_of_month,
                    crontab.month_of_year,
                    str(crontab.timezone),
                )
                if crontab
                else None,
                "solar": task.solar_id,
                "clocked": task.clocked_id,
                "args": task.args,
                "kwargs": task.kwargs,
                "queue": task.queue,
                "exchange": task.exchange,
                "routing_key": task.routing_key,
                "headers": task.headers,
                "priority": task.priority,
                "expires": task.expires,
                "expire_seconds": task.expire_seconds,
                "one_off": task.one_off,
                "start_time": task.start_time,
                "enabled": task.enabled,
                "description": task.description,
            }
        )
    return rows


def schedule_rows() -> tuple[list[tuple], list[tuple]]:
    intervals = list(IntervalSchedule.objects.order_by("id").values_list("every", "period"))
    crontabs = [
        (c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, str(c.timezone))
        for c in CrontabSchedule.objects.order_by("id")
    ]
    return intervals, crontabs


@pytest.mark.django_db
def test_setup_periodic_tasks_makes_exactly_these_rows_and_schedules():
    call_command("setup_periodic_tasks", stdout=io.StringIO())

    assert beat_rows() == EXPECTED_ROWS
    assert schedule_rows() == (
        [(30, "seconds"), (60, "seconds")],
        [(minute, "*", "*", "*", "*", "UTC") for minute in ("*", "*/5", "*/10", "17", "0")],
    )


@pytest.mark.django_db
def test_running_it_again_changes_nothing():
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    before = beat_rows(), schedule_rows()

    call_command("setup_periodic_tasks", stdout=io.StringIO())

    assert (beat_rows(), schedule_rows()) == before


@pytest.mark.django_db
def test_a_drifted_entry_is_put_back_and_an_entry_an_admin_disabled_stays_disabled():
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    other_interval = IntervalSchedule.objects.create(every=7, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.filter(name="executions: sweep the outbox").update(
        task="executions.elsewhere", interval=other_interval, expire_seconds=3, enabled=False
    )
    other_crontab = CrontabSchedule.objects.create(minute="7", hour="3")
    PeriodicTask.objects.filter(name="automations: check thresholds").update(
        task="executions.elsewhere", crontab=other_crontab, expire_seconds=3, enabled=False
    )
    # queue and description follow the entry too (one registry: each field the entry names is the entry's)
    PeriodicTask.objects.filter(name="automations: check schedules").update(queue="actions", routing_key="actions")
    PeriodicTask.objects.filter(name="executions: reclaim expired leases").update(description="edited")

    call_command("setup_periodic_tasks", stdout=io.StringIO())

    disabled = {"executions: sweep the outbox", "automations: check thresholds"}
    assert beat_rows() == [{**row, "enabled": row["name"] not in disabled} for row in EXPECTED_ROWS]


def test_an_entry_runs_on_an_interval_or_a_crontab_minute_and_expires_before_its_next_run():
    assert PeriodicEntry("a", "t", every_seconds=60).expire_seconds == 54
    assert PeriodicEntry("a", "t", minute="*/5", expire_seconds=290).schedule_text == "at minute */5 UTC"
    for wrong in ({}, {"every_seconds": 60, "minute": "*"}, {"minute": "*"}):
        with pytest.raises(ValueError):
            PeriodicEntry("a", "t", **wrong)


@pytest.mark.django_db
def test_the_command_lists_every_entry_with_its_schedule():
    out = io.StringIO()
    call_command("setup_periodic_tasks", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "executions: sweep the outbox: executions.sweep_outbox every 30 s, expires 27s"
    assert lines[4] == "automations: check thresholds: executions.check_thresholds at minute */5 UTC, expires 290s"
    assert len(lines) == len(EXPECTED_ROWS)
