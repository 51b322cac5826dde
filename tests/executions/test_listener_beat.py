"""The fixed beat entries: three ticks with expires near their interval, idempotent setup."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app


@pytest.mark.django_db
def test_setup_periodic_tasks_is_idempotent_and_keeps_admin_choices():
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    PeriodicTask.objects.filter(task="executions.check_behaviors").update(enabled=False)  # an admin turned it off
    call_command("setup_periodic_tasks", stdout=io.StringIO())

    tasks = {task.task: task for task in PeriodicTask.objects.select_related("crontab").filter(crontab__isnull=False)}
    assert set(tasks) == {
        "executions.check_schedules",
        "executions.check_thresholds",
        "executions.check_behaviors",
        "executions.prune_history",
        "executions.send_failure_digests",
        "executions.fold_delivery_rollups",
    }
    assert [(tasks[name].crontab.minute, tasks[name].expire_seconds) for name in sorted(tasks)] == [
        ("*/10", 590),
        ("*", 55),
        ("*/5", 290),
        ("*/5", 290),
        ("17", 3000),
        ("0", 3000),
    ]
    assert tasks["executions.check_behaviors"].enabled is False
    assert all(task.interval_id is None for task in tasks.values())


def test_the_beat_tasks_are_registered_under_their_names():
    for name in (
        "executions.check_schedules",
        "executions.check_thresholds",
        "executions.check_behaviors",
        "executions.check_metric_thresholds",
    ):
        assert name in celery_app.tasks


@pytest.mark.django_db
def test_the_tick_tasks_run_and_return_counts(eager_celery, pipeline_trigger_rule):
    from executions.tasks_listeners import check_behaviors_task, check_schedules_task, check_thresholds_task

    assert check_schedules_task.delay().get()["due"] == 0
    assert check_thresholds_task.delay().get()["rules"] == 0
    assert check_behaviors_task.delay().get()["rules"] == 0
