"""The schedule listener: fire each due slot of schedule rules exactly once.

Beat runs ``check_schedules`` every minute. It reads only rules whose indexed ``next_run_at`` has come
(cost follows the due rules, not all rules) and for each one:

1. plans the slots (``automations.schedule_times.plan_due``): after downtime only the latest missed
   slot fires, and only while it is at most the grace period late (``AUTOMATIONS["SCHEDULE_GRACE_SECONDS"]``,
   default one hour); older slots are recorded as missed, never fired in a burst;
2. claims the rule with a compare-and-set on ``next_run_at`` (advancing it to the next slot after now),
   so a second beat or a second worker that read the same row does nothing;
3. inserts the ``ScheduleSlot`` row, unique per (rule, slot) — the fence if anything else slips
   through — and calls the pipeline's ``trigger_rule`` with occurrence key ``schedule:<UTC slot>``.

All three happen in one transaction per rule: if firing fails, nothing moved and the next tick retries
the slot while it is still within the grace period.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from automations.choices import TriggerType
from automations.conf import app_settings
from automations.models import AutomationRule
from automations.schedule_times import DuePlan, ScheduleError, Slot, format_utc, plan_due
from executions.choices import ScheduleSlotStatus, TriggerSource
from executions.models import ScheduleSlot

logger = logging.getLogger(__name__)

DEFAULT_GRACE = dt.timedelta(hours=1)
BATCH_SIZE = 500


@dataclass
class ScheduleTickResult:
    due: int = 0
    fired: int = 0
    missed: int = 0
    skipped: int = 0  # claimed by another worker, already fired, or fired earlier in the same period
    errors: int = 0


def schedule_grace() -> dt.timedelta:
    """How late a slot may still fire (settings ``AUTOMATIONS["SCHEDULE_GRACE_SECONDS"]``, default 3600)."""
    seconds = app_settings.SCHEDULE_GRACE_SECONDS
    return DEFAULT_GRACE if seconds is None else dt.timedelta(seconds=seconds)


def rules_due_for_schedule(now: dt.datetime) -> QuerySet[AutomationRule]:
    """Enabled, live schedule rules whose next slot is at or before ``now``, through the partial index."""
    return AutomationRule.objects.filter(
        trigger_type=TriggerType.SCHEDULE, enabled=True, next_run_at__isnull=False, next_run_at__lte=now
    ).order_by("next_run_at", "id")


def check_schedules(now: dt.datetime | None = None) -> ScheduleTickResult:
    """One pass of the schedule listener; returns counts. Safe to run twice or in parallel."""
    now = now or timezone.now()
    result = ScheduleTickResult()
    due_ids = list(rules_due_for_schedule(now).values_list("id", flat=True))
    result.due = len(due_ids)
    grace = schedule_grace()
    for start in range(0, len(due_ids), BATCH_SIZE):
        batch = AutomationRule.objects.filter(id__in=due_ids[start : start + BATCH_SIZE]).select_related("tenant")
        for rule in batch:
            try:
                fire_due_schedule(rule, now, grace, result)
            except Exception:
                # A sweep never stops on one rule; the slot is retried next tick while within grace.
                logger.exception("schedule tick failed for rule %s", rule.pk, extra=rule.log_fields)
                result.errors += 1
    return result


def fire_due_schedule(rule: AutomationRule, now: dt.datetime, grace: dt.timedelta, result: ScheduleTickResult) -> None:
    """Claim a due rule, record missed slots, fire the latest slot within grace, advance next_run_at."""
    due_at = rule.next_run_at
    if due_at is None or due_at > now or not rule.enabled:
        return
    try:
        plan = plan_due(rule.trigger_config, rule.tenant.timezone, due_at, now, grace)
    except ScheduleError as error:
        # An old bad row: stop scheduling it instead of failing every minute.
        logger.warning(
            "rule %s: schedule cannot be computed, no longer scheduled: %s", rule.pk, error, extra=rule.log_fields
        )
        AutomationRule.all_objects.filter(pk=rule.pk, next_run_at=due_at).update(next_run_at=None)
        result.errors += 1
        return
    with transaction.atomic():
        # The claim: only the writer that still sees the next_run_at it planned from moves it on.
        claimed = AutomationRule.all_objects.filter(
            pk=rule.pk, next_run_at=due_at, enabled=True, deleted_at__isnull=True
        ).update(next_run_at=plan.next.utc if plan.next is not None else None)
        if claimed != 1:
            result.skipped += 1
            return
        _record_missed(rule, plan)
        result.missed += len(plan.missed)
        if plan.fire is None:
            return
        if _fire_slot(rule, plan, now):
            result.fired += 1
        else:
            result.skipped += 1


def _slot_row(rule: AutomationRule, slot: Slot, status: str) -> ScheduleSlot:
    return ScheduleSlot(
        rule=rule,
        slot_at=slot.utc,
        scheduled_local=slot.scheduled.strftime("%Y-%m-%dT%H:%M"),
        zone_name=slot.timezone,
        period=slot.period,
        status=status,
    )


def _record_missed(rule: AutomationRule, plan: DuePlan) -> None:
    if not plan.missed:
        return
    ScheduleSlot.objects.bulk_create(
        [_slot_row(rule, slot, ScheduleSlotStatus.MISSED) for slot in plan.missed], ignore_conflicts=True
    )
    logger.warning(
        "rule %s missed %s%s schedule slot(s) from %s; only the latest within grace fires",
        rule.pk,
        len(plan.missed),
        "+" if plan.more_missed else "",
        format_utc(plan.missed[0].utc),
        extra=rule.log_fields,
    )


def _fire_slot(rule: AutomationRule, plan: DuePlan, now: dt.datetime) -> bool:
    """Insert the fired slot row and hand the slot to the pipeline; False if it already fired."""
    from executions.pipeline import trigger_rule

    slot = plan.fire
    assert slot is not None
    row = _slot_row(rule, slot, ScheduleSlotStatus.FIRED)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        logger.info(
            "rule %s: slot %s already fired (or its period has)", rule.pk, format_utc(slot.utc), extra=rule.log_fields
        )
        return False
    trigger_data = {
        **slot.as_trigger_data(),
        "late_by_seconds": max(0, int((now - slot.utc).total_seconds())),
        "missed_slots": len(plan.missed),
    }
    execution = trigger_rule(rule, TriggerSource.SCHEDULER, trigger_data, occurrence_key=slot.occurrence_key)
    if execution is not None:
        row.execution = execution
        row.save(update_fields=["execution"])
    return True
