"""setup_periodic_tasks, the timing checks and the Celery configuration."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings

from automations.checks import check_pipeline_timing
from tests.overrides import override_automations


@pytest.mark.django_db
def test_setup_periodic_tasks_creates_one_entry_per_sweeper_with_expires():
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", verbosity=0)
    call_command("setup_periodic_tasks", verbosity=0)  # idempotent

    entries = {task.task: task for task in PeriodicTask.objects.filter(task__startswith="executions.sweep_")}
    assert set(entries) == {"executions.sweep_outbox", "executions.sweep_leases"}
    assert PeriodicTask.objects.filter(task="executions.check_schedules").exists()  # the listeners' ticks too
    for entry in entries.values():
        assert entry.enabled and entry.interval is not None
        assert 0 < entry.expire_seconds < entry.interval.every
        assert entry.queue == "executions"


def test_the_task_names_and_queues_are_pinned():
    from config.celery import app
    from executions import tasks

    assert tasks.match_event_task.name == "executions.match_event"
    assert tasks.run_execution_task.name == "executions.run_execution"
    assert tasks.run_action_task.name == "executions.run_action"
    routes = app.conf.task_routes
    assert routes["executions.match_event"]["queue"] == "events"
    assert routes["executions.run_execution"]["queue"] == "executions"
    assert routes["executions.run_action"]["queue"] == "actions"
    for task in (tasks.match_event_task, tasks.run_execution_task, tasks.run_action_task):
        assert task.acks_late and task.reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_ignore_result is True


def test_the_shipped_timing_passes_its_check():
    assert check_pipeline_timing() == []


@override_settings(CELERY_TASK_TIME_LIMIT=50)
@override_automations(EXECUTION_LEASE_SECONDS=30)
def test_a_lease_shorter_than_the_time_limit_is_reported():
    assert [problem.id for problem in check_pipeline_timing()] == ["automations.W001"]


@override_settings(CELERY_BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 300})
@override_automations(EXECUTION_LEASE_SECONDS=60)
def test_a_lease_near_the_visibility_timeout_is_reported():
    assert "automations.W002" in [problem.id for problem in check_pipeline_timing()]
