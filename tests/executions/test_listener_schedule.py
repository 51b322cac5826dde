"""The schedule tick: each slot fires once, catch-up after downtime, DST on the real path."""

from __future__ import annotations

import datetime as dt

import pytest

from automations.models import AutomationRule
from automations.services import rule_set_enabled, rule_update
from executions.choices import ScheduleSlotStatus, TriggerSource
from executions.listeners.schedule import ScheduleTickResult, check_schedules, fire_due_schedule
from executions.models import AutomationExecution, ScheduleSlot
from tests.executions.workers import race
from tests.factories import make_rule

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def schedule_rule(tenant, owner, config, scheduled_from: dt.datetime, **overrides) -> AutomationRule:
    """A schedule rule whose next slot is computed as if it had been saved at ``scheduled_from``."""
    rule = make_rule(tenant, owner, trigger_type="schedule", trigger_config=config, **overrides)
    AutomationRule.objects.filter(pk=rule.pk).update(next_run_at=rule.compute_next_run_at(scheduled_from))
    rule.refresh_from_db()
    return rule


def executions_of(rule) -> list[AutomationExecution]:
    return list(AutomationExecution.objects.filter(automation_rule=rule).order_by("id"))


@pytest.mark.django_db
def test_a_due_slot_fires_once_with_slot_data(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))
    assert rule.next_run_at == utc(2026, 3, 2, 9)

    assert check_schedules(utc(2026, 3, 2, 8, 59, 59)).due == 0
    result = check_schedules(utc(2026, 3, 2, 9, 0, 5))

    assert (result.due, result.fired, result.missed) == (1, 1, 0)
    [execution] = executions_of(rule)
    assert execution.trigger_source == TriggerSource.SCHEDULER
    assert execution.occurrence_key == "schedule:2026-03-02T09:00:00Z"
    assert execution.trigger_data["slot_utc"] == "2026-03-02T09:00:00Z"
    assert execution.trigger_data["slot_local"] == "2026-03-02T09:00:00+00:00"
    assert execution.trigger_data["scheduled_local"] == "2026-03-02T09:00"
    assert execution.trigger_data["late_by_seconds"] == 5
    rule.refresh_from_db()
    assert rule.next_run_at == utc(2026, 3, 3, 9)
    slot = ScheduleSlot.objects.get(rule=rule)
    assert (slot.status, slot.period, slot.execution_id) == (ScheduleSlotStatus.FIRED, "2026-03-02", execution.id)


@pytest.mark.django_db
def test_two_passes_over_one_minute_fire_once(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "cron", "cron": "*/5 * * * *"}, utc(2026, 3, 2, 8))
    for second in range(0, 60, 10):
        check_schedules(utc(2026, 3, 2, 8, 5, second))
    assert [e.occurrence_key for e in executions_of(rule)] == ["schedule:2026-03-02T08:05:00Z"]


@pytest.mark.django_db
def test_a_worker_holding_a_stale_row_does_not_fire_again(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))
    stale = AutomationRule.objects.select_related("tenant").get(pk=rule.pk)  # read before the other pass
    check_schedules(utc(2026, 3, 2, 9, 0, 1))

    result = ScheduleTickResult()
    fire_due_schedule(stale, utc(2026, 3, 2, 9, 0, 2), dt.timedelta(hours=1), result)

    assert (result.fired, result.skipped) == (0, 1)
    assert len(executions_of(rule)) == 1


@pytest.mark.django_db
def test_the_unique_slot_row_stops_a_refire_even_if_next_run_at_goes_back(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "cron", "cron": "0 * * * *"}, utc(2026, 3, 2, 8, 30))
    check_schedules(utc(2026, 3, 2, 9, 0, 1))
    AutomationRule.objects.filter(pk=rule.pk).update(next_run_at=utc(2026, 3, 2, 9))  # e.g. restored backup

    result = check_schedules(utc(2026, 3, 2, 9, 0, 30))

    assert (result.fired, result.skipped) == (0, 1)
    assert len(executions_of(rule)) == 1
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == utc(2026, 3, 2, 10)


@pytest.mark.django_db
def test_after_downtime_only_the_latest_slot_within_grace_fires(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "cron", "cron": "0 * * * *"}, utc(2026, 3, 1, 23, 30))
    assert rule.next_run_at == utc(2026, 3, 2, 0)

    result = check_schedules(utc(2026, 3, 2, 5, 20))  # down from before midnight until 05:20

    assert (result.fired, result.missed) == (1, 5)
    [execution] = executions_of(rule)
    assert execution.occurrence_key == "schedule:2026-03-02T05:00:00Z"
    assert execution.trigger_data["missed_slots"] == 5
    missed = ScheduleSlot.objects.filter(rule=rule, status=ScheduleSlotStatus.MISSED).order_by("slot_at")
    assert [slot.slot_at.hour for slot in missed] == [0, 1, 2, 3, 4]
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == utc(2026, 3, 2, 6)


@pytest.mark.django_db
def test_a_slot_later_than_grace_is_recorded_missed_and_not_fired(tenant, owner, settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "SCHEDULE_GRACE_SECONDS": 3600}
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))

    result = check_schedules(utc(2026, 3, 2, 10, 0, 1))

    assert (result.fired, result.missed) == (0, 1)
    assert executions_of(rule) == []
    assert ScheduleSlot.objects.get(rule=rule).status == ScheduleSlotStatus.MISSED
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == utc(2026, 3, 3, 9)


@pytest.mark.django_db
def test_days_of_downtime_fire_today_once(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))
    result = check_schedules(utc(2026, 3, 5, 9, 30))
    assert (result.fired, result.missed) == (1, 3)
    assert [e.occurrence_key for e in executions_of(rule)] == ["schedule:2026-03-05T09:00:00Z"]


@pytest.mark.django_db
def test_enabling_never_fires_a_slot_that_passed_while_disabled(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "cron", "cron": "* * * * *"}, utc(2020, 1, 1))
    rule_set_enabled(rule, False)
    rule_set_enabled(rule, True)
    rule.refresh_from_db()
    assert rule.next_run_at > dt.datetime.now(UTC)
    assert check_schedules().fired == 0
    assert executions_of(rule) == []


@pytest.mark.django_db
def test_disabled_and_archived_rules_are_not_due(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))
    AutomationRule.objects.filter(pk=rule.pk).update(enabled=False)
    assert check_schedules(utc(2026, 3, 2, 9, 0, 1)).due == 0


@pytest.mark.django_db
def test_a_rule_fires_at_most_once_per_day_even_when_its_time_moves_later(tenant, owner, monkeypatch):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))
    check_schedules(utc(2026, 3, 2, 9, 0, 1))
    rule.refresh_from_db()
    rule_update(rule, {"trigger_config": {"pattern": "daily", "time": "10:00"}})
    AutomationRule.objects.filter(pk=rule.pk).update(next_run_at=utc(2026, 3, 2, 10))  # as if edited at 09:30

    result = check_schedules(utc(2026, 3, 2, 10, 0, 1))

    assert (result.fired, result.skipped) == (0, 1)
    assert len(executions_of(rule)) == 1
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == utc(2026, 3, 3, 10)


@pytest.mark.django_db
def test_a_failing_trigger_rolls_back_and_the_next_tick_retries(tenant, owner, monkeypatch, pipeline_trigger_rule):
    import executions.pipeline

    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))

    def broken(*args, **kwargs):
        raise RuntimeError("pipeline down")

    monkeypatch.setattr(executions.pipeline, "trigger_rule", broken)
    result = check_schedules(utc(2026, 3, 2, 9, 0, 1))
    assert (result.fired, result.errors) == (0, 1)
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == utc(2026, 3, 2, 9)
    assert not ScheduleSlot.objects.filter(rule=rule).exists()

    monkeypatch.setattr(executions.pipeline, "trigger_rule", pipeline_trigger_rule)
    assert check_schedules(utc(2026, 3, 2, 9, 1, 1)).fired == 1
    assert len(executions_of(rule)) == 1


@pytest.mark.django_db
def test_a_bad_stored_config_is_unscheduled_not_retried_forever(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))
    other = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"}, utc(2026, 3, 2, 8))
    AutomationRule.objects.filter(pk=rule.pk).update(trigger_config={"pattern": "daily", "time": "9am"})

    result = check_schedules(utc(2026, 3, 2, 9, 0, 1))

    assert (result.errors, result.fired) == (1, 1)
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at is None
    assert len(executions_of(other)) == 1


@pytest.mark.django_db
def test_new_york_gap_slot_fires_at_0300_local(tenant, owner):
    config = {"pattern": "daily", "time": "02:30", "timezone": "America/New_York"}
    rule = schedule_rule(tenant, owner, config, utc(2026, 3, 7, 12))
    assert rule.next_run_at == utc(2026, 3, 8, 7)
    check_schedules(utc(2026, 3, 8, 7, 0, 2))
    [execution] = executions_of(rule)
    assert execution.trigger_data["slot_local"] == "2026-03-08T03:00:00-04:00"
    assert execution.trigger_data["scheduled_local"] == "2026-03-08T02:30"


@pytest.mark.parametrize(
    ("zone", "time", "start", "expected_key"),
    [
        ("America/New_York", "01:30", utc(2026, 11, 1, 3), "schedule:2026-11-01T05:30:00Z"),
        ("Europe/Berlin", "02:30", utc(2026, 10, 24, 23), "schedule:2026-10-25T00:30:00Z"),
    ],
)
@pytest.mark.django_db
def test_minute_ticks_through_a_fall_back_night_fire_once(tenant, owner, zone, time, start, expected_key):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": time, "timezone": zone}, start)
    for minute in range(0, 5 * 60):
        check_schedules(start + dt.timedelta(minutes=minute, seconds=3))
    assert [e.occurrence_key for e in executions_of(rule)] == [expected_key]


@pytest.mark.django_db(transaction=True)
def test_parallel_workers_fire_each_slot_once(tenant, owner):
    rules = [
        schedule_rule(tenant, owner, {"pattern": "cron", "cron": "*/15 * * * *"}, utc(2026, 3, 2, 8, 50))
        for _ in range(12)
    ]
    now = utc(2026, 3, 2, 9, 0, 1)

    def tick_three_times() -> None:
        for _ in range(3):
            check_schedules(now)

    assert race(*[tick_three_times] * 4) == [None] * 4
    assert AutomationExecution.objects.filter(automation_rule__in=rules).count() == 12
    assert ScheduleSlot.objects.filter(rule__in=rules, status=ScheduleSlotStatus.FIRED).count() == 12
