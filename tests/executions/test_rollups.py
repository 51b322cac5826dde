"""The daily roll-ups (docs/analytics.md): every way an execution ends counts it once in its roll-up, in the
tenant's day; the rebuild corrects drift from raw rows and leaves pruned days alone."""

from __future__ import annotations

import contextlib
import datetime as dt
import random

import pytest
from django.core.management import call_command
from django.utils import timezone

from automations.services import rule_archive, rule_set_enabled
from executions.choices import ExecutionStatus, TriggerSource
from executions.delivery.models import WebhookDelivery
from executions.delivery.services import endpoint_create
from executions.models import AutomationExecution, Event, ExecutionDailyRollup, RuleDailyOutcomes
from executions.pipeline import execute_rule_manually, run_execution, run_executions, trigger_rule
from executions.rollups import rollups_rebuild
from executions.services import (
    ExecutionConflict,
    emit_event,
    execution_reject,
    send_due_deliveries_and_settle,
    sweep_expired_leases,
)
from executions.services.delivery_settlement import execution_settle_deliveries
from governance.models import Tenant
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply
from tests.executions.rollup_checks import outcomes_projected, outcomes_stored, recount, stored
from tests.executions.workers import race
from tests.factories import make_execution, make_rule
from tests.services import require_postgresql

pytestmark = pytest.mark.django_db

ACTIVE = {"product_count": 2, "store_status": "active"}
CLOSED = {"product_count": 2, "store_status": "closed"}


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in ExecutionDailyRollup.objects.all():
        counts[row.status] = counts.get(row.status, 0) + row.count
    return counts


def test_every_way_an_execution_ends_is_rolled_up_once(
    tenant, owner, council_member, active_store, sink, loopback_allowed, django_capture_on_commit_callbacks
):
    # given: a notification rule, a high-risk rule, a shadow rule and a webhook rule whose receiver fails once
    plain = make_rule(tenant, owner, name="Plain")
    risky = make_rule(tenant, owner, name="Risky", risk_level="high")
    shadow = make_rule(tenant, owner, name="Shadow", mode="shadow")
    hooked = make_event_rule(tenant, owner)
    endpoint_create(tenant, sink.url(), action_type="add_product")
    sink.reply(Reply(status=500, body=b"boom"))

    # when: runs end every way there is
    execute_rule_manually(plain, ACTIVE, owner)  # succeeded
    execute_rule_manually(plain, CLOSED, owner)  # skipped
    execute_rule_manually(shadow, ACTIVE, owner)  # shadowed
    to_reject = execute_rule_manually(risky, ACTIVE, owner)
    execution_reject(to_reject, council_member, "no")  # rejected
    with django_capture_on_commit_callbacks(execute=True):
        emit_event(tenant.pk, "product_added", {}, source="store", idempotency_key="e1")  # retrying (500)
    deep = Event.objects.create(tenant=tenant, event_type="x", idempotency_key="deep", causation_depth=99)
    trigger_rule(plain, TriggerSource.EVENT, {}, event=deep)  # blocked by loop protection
    late = trigger_rule(plain, TriggerSource.SCHEDULER, {}, occurrence_key="slot-1")
    rule_set_enabled(plain, False, owner)
    run_execution(late.pk)  # blocked: the rule was disabled meanwhile
    rule_set_enabled(plain, True, owner)
    lost = trigger_rule(plain, TriggerSource.SCHEDULER, {}, occurrence_key="slot-2")  # pending: a worker takes it
    AutomationExecution.objects.filter(pk=lost.pk).update(
        status=ExecutionStatus.RUNNING, success=None, action_attempts=99, lease_expires_at=timezone.now()
    )
    sweep_expired_leases(now=timezone.now() + dt.timedelta(seconds=1))  # failed: lease lost, no attempts left
    execute_rule_manually(risky, ACTIVE, owner)
    rule_archive(risky, owner)  # cancelled
    sink.reply(Reply(status=200))
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    send_due_deliveries_and_settle()  # the retrying one settles: succeeded

    # then: each status counted once per execution, equal to the recount from raw rows
    hooked_execution = AutomationExecution.objects.get(automation_rule=hooked)
    execution_settle_deliveries(hooked_execution.pk)  # settling again counts nothing
    assert statuses() == {
        "succeeded": 2,
        "skipped": 1,
        "shadowed": 1,
        "rejected": 1,
        "blocked": 2,
        "failed": 1,
        "cancelled": 1,
    }
    assert stored() == recount()
    assert outcomes_stored() == outcomes_projected()
    assert AutomationExecution.objects.exclude(status__in=list(statuses())).count() == 0
    # and the failure kind is part of the key
    kinds = {(row.status, row.failure_kind) for row in ExecutionDailyRollup.objects.exclude(failure_kind="")}
    assert {("rejected", "governance_rejected"), ("cancelled", "approval_cancelled")} <= kinds
    assert {("blocked", "cap_reached"), ("blocked", "rule_inactive")} <= kinds


def test_the_day_is_the_tenants_local_day_of_the_trigger(tenant, owner):
    # given: a tenant in Tokyo (UTC+9) and a run triggered at 20:00 UTC, the next day there
    tenant.timezone = "Asia/Tokyo"
    tenant.save(update_fields=["timezone"])
    rule = make_rule(tenant, owner)
    triggered = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)

    # when
    make_execution(rule, "failed", triggered_at=triggered, execution_time_ms=40.0)
    make_execution(rule, "succeeded", triggered_at=triggered, recorded_only=True)

    # then
    rows = {row.status: row for row in ExecutionDailyRollup.objects.all()}
    assert {row.day for row in rows.values()} == {dt.date(2026, 3, 2)}
    assert rows["failed"].execution_time_ms_sum == 40.0 and rows["failed"].recorded_only_count == 0
    assert rows["succeeded"].recorded_only_count == 1
    assert stored() == recount()
    assert outcomes_stored() == outcomes_projected()


def test_the_rebuild_corrects_drift_and_keeps_pruned_days(tenant, other_tenant, owner, other_owner):
    # given: executions of two tenants on two days, and roll-ups that drifted
    rule = make_rule(tenant, owner)
    other = make_rule(other_tenant, other_owner)
    old_day = timezone.now() - dt.timedelta(days=200)
    make_execution(rule, "succeeded", triggered_at=old_day)
    for _ in range(3):
        make_execution(rule, "failed")
    make_execution(other, "skipped")
    ExecutionDailyRollup.objects.filter(status="failed").update(count=7)
    ExecutionDailyRollup.objects.filter(tenant=other_tenant).delete()
    AutomationExecution.objects.filter(automation_rule=rule, status="succeeded").delete()  # as if pruned
    Tenant.objects.filter(pk=tenant.pk).update(executions_pruned_before=old_day + dt.timedelta(days=1))

    # when
    result = rollups_rebuild()

    # then: today's counts are the recount again; the pruned day keeps its roll-up
    assert result.tenants == 2 and result.executions_added == -4 + 1
    assert statuses() == {"succeeded": 1, "failed": 3, "skipped": 1}
    assert ExecutionDailyRollup.objects.get(status="succeeded").day < (timezone.now() - dt.timedelta(days=100)).date()
    # and the rules' daily outcomes follow the roll-ups, pruned day included
    assert outcomes_stored() == outcomes_projected()
    # and a second rebuild changes nothing
    assert rollups_rebuild().keys_corrected == 0


def test_the_rebuild_corrects_the_rules_daily_outcomes_from_the_rollups(tenant, owner):
    # given: a rule's runs of every kind on two days, and outcome rows that drifted, went missing or are extra
    rule = make_rule(tenant, owner)
    yesterday = timezone.now() - dt.timedelta(days=1)
    for status in ("succeeded", "failed", "skipped", "shadowed"):
        make_execution(rule, status, execution_time_ms=10.0)
    make_execution(rule, "succeeded", recorded_only=True, triggered_at=yesterday, execution_time_ms=5.0)
    rows = {row.day: row for row in RuleDailyOutcomes.objects.all()}
    assert len(rows) == 2 and outcomes_stored() == outcomes_projected()
    today_row = rows[max(rows)]
    assert (today_row.succeeded, today_row.failed, today_row.skipped, today_row.shadowed) == (1, 1, 1, 1)
    assert today_row.ran_time_ms_sum == 20.0  # the succeeded and the failed run's times only
    assert rows[min(rows)].recorded_only == 1 and rows[min(rows)].succeeded == 0
    RuleDailyOutcomes.objects.filter(pk=today_row.pk).update(failed=9, skipped=0)
    RuleDailyOutcomes.objects.filter(day=min(rows)).delete()
    extra = {"tenant": tenant, "automation_rule": rule, "day": dt.date(2020, 1, 1), "action_type": "x"}
    RuleDailyOutcomes.objects.create(**extra, failed=3)

    # when
    rollups_rebuild([tenant.pk])

    # then
    assert outcomes_stored() == outcomes_projected()


def test_the_rebuild_command_reports_what_it_corrected(tenant, owner):
    rule = make_rule(tenant, owner)
    make_execution(rule, "succeeded")
    ExecutionDailyRollup.objects.all().delete()
    from io import StringIO

    out = StringIO()
    call_command("rebuild_execution_rollups", "--tenant", tenant.pk, stdout=out)
    assert "1 tenant" in out.getvalue() and "+1 execution" in out.getvalue()
    assert stored() == recount()
    assert outcomes_stored() == outcomes_projected()


@pytest.mark.django_db(transaction=True)
def test_rollups_equal_a_recount_after_random_concurrent_endings(tenant, owner, council_member, active_store):
    require_postgresql("the race needs PostgreSQL's row locks; SQLite serialises every write")
    # given: rules that succeed, skip and await approval, with pending executions spread over five days
    runs = make_rule(tenant, owner, name="Runs")
    skips = make_rule(tenant, owner, name="Skips", conditions=[{"type": "store_status", "operator": "=", "value": "x"}])
    waits = make_rule(tenant, owner, name="Waits", risk_level="high")
    ids = []
    for n in range(30):
        for rule in (runs, skips, waits):
            ids.append(trigger_rule(rule, TriggerSource.SCHEDULER, {}, occurrence_key=f"slot-{n}").pk)
    for offset, execution_id in enumerate(ids):
        AutomationExecution.objects.filter(pk=execution_id).update(
            triggered_at=timezone.now() - dt.timedelta(days=offset % 5, hours=offset % 7)
        )

    def worker(seed: int) -> int:
        chance = random.Random(seed)
        order = ids[:]
        chance.shuffle(order)
        for start in range(0, len(order), 6):
            run_executions(order[start : start + 6])  # claims race: only one worker moves each row
            for execution in AutomationExecution.objects.filter(status=ExecutionStatus.AWAITING_APPROVAL)[:3]:
                with contextlib.suppress(ExecutionConflict):  # another worker decided it first
                    execution_reject(execution, council_member if chance.random() < 0.5 else owner, "race")
            if seed == 3 and chance.random() < 0.3:
                rollups_rebuild([tenant.pk])  # a rebuild while the others end executions
        return 0

    # when: four workers end them at once, in random orders
    outcomes = race(*[lambda seed=seed: worker(seed) for seed in range(4)])

    # then: every execution ended once, and the roll-ups are exactly the recount from raw rows
    assert outcomes == [0, 0, 0, 0], outcomes
    assert not AutomationExecution.objects.exclude(status__in=["succeeded", "skipped", "rejected"]).exists()
    assert stored() == recount()
    assert outcomes_stored() == outcomes_projected()
    assert sum(row.count for row in ExecutionDailyRollup.objects.all()) == len(ids)
