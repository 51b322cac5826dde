"""Contact pressure across rules (issue 20, item 1; docs/contact-pressure.md), in this process.

Caps per customer and channel across rules, skip versus defer, quiet hours in the tenant's or the
customer's zone across a DST change, exempt rules, runs without a customer, approvals capped too,
shadow rules never held, the statuses in the API, the execution page and the stats, and the rule
and tenant settings refused on every surface. The clock holds are decided by is governance's
(``automations.approval_facts.server_now``), frozen here; the real-worker tests are in
test_contact_pressure_worker.py.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from automations import approval_facts
from executions.choices import ExecutionStatus
from executions.models import AutomationExecution
from executions.pipeline.run import execution_run_action
from executions.selectors import rule_execution_stats
from executions.services import emit_event, execution_approve
from executions.services.sweepers import sweep_outbox
from governance.services import tenant_update
from tests.api import post_json, token_client
from tests.factories import make_rule, tenant_admin_form

pytestmark = pytest.mark.django_db

EMAIL_ONCE_PER_16H = {"email": {"max": 1, "window_hours": 16, "quiet_hours": None}, "any": None}
NO_LIMITS = {"email": None, "sms": None, "push": None, "any": None}


def notify_rule(tenant, event_type: str, channels: list[str] | None = None, **overrides: Any):
    """A low-risk event rule sending the owner a notification on ``channels`` (default email)."""
    return make_rule(
        tenant,
        name=overrides.pop("name", f"Tell them about {event_type}"),
        trigger_type="event",
        trigger_config={"event_type": event_type},
        conditions=[],
        action_type="send_notification",
        action_config={"recipients": ["owner"], "message": "Hello", "channels": channels or ["email"]},
        **overrides,
    )


def set_policy(tenant, policy: dict[str, Any], timezone_name: str | None = None) -> None:
    changes: dict[str, Any] = {"contact_policy": policy}
    if timezone_name:
        changes["timezone"] = timezone_name
    tenant_update(tenant, changes)
    tenant.refresh_from_db()


def emit(tenant, capture, event_type: str, customer_id: str | None = "cust_1", **payload: Any) -> None:
    with capture(execute=True):
        emit_event(tenant.pk, event_type, dict(payload), customer_id=customer_id)


@pytest.fixture
def clock(monkeypatch) -> Callable[[dt.datetime], None]:
    """Freeze the clock holds are decided by (governance's ``server_now``)."""

    def freeze(moment: dt.datetime) -> None:
        monkeypatch.setattr(approval_facts, "server_now", lambda: moment)

    return freeze


def statuses(*rules) -> list[str]:
    return [AutomationExecution.objects.get(automation_rule=rule).status for rule in rules]


def test_three_rules_for_one_customer_one_action_two_throttled(tenant, owner, django_capture_on_commit_callbacks):
    # given: one email per 16 h for a customer; three rules send one on the same event
    set_policy(tenant, EMAIL_ONCE_PER_16H)
    rules = [notify_rule(tenant, "order_placed", name=f"Rule {n}") for n in range(3)]

    # when
    emit(tenant, django_capture_on_commit_callbacks, "order_placed")

    # then: one acted, two were throttled, with the reason in words, no action attempted
    executions = list(AutomationExecution.objects.filter(automation_rule__in=rules).order_by("id"))
    assert sorted(e.status for e in executions) == ["succeeded", "throttled", "throttled"]
    for execution in executions:
        assert execution.customer_id == "cust_1" and execution.contact_channels == ",any,email,"
        if execution.status == ExecutionStatus.THROTTLED:
            assert execution.action_attempts == 0 and execution.action_started_at is None
            assert execution.success is False and execution.failure_kind == ""
            hold = execution.hold
            assert hold["kind"] == "contact_cap" and hold["deferred"] is False
            assert "already got 1 email in the last 16 hours (the tenant's cap is 1)" in hold["reason"]
            assert execution.error_message.startswith("Throttled (skipped): This customer already got 1 email")
    # the stats count them (roll-ups), on each rule
    throttled = sum(rule_execution_stats(rule)["throttled_count"] for rule in rules)
    assert throttled == 2

    # and another customer is not held by the first one's messages
    emit(tenant, django_capture_on_commit_callbacks, "order_placed", customer_id="cust_2")
    assert AutomationExecution.objects.filter(customer_id="cust_2", status="succeeded").count() == 1


def test_across_events_and_channels_any_counts_every_customer_facing_action(
    tenant, owner, django_capture_on_commit_callbacks
):
    # given: at most 2 customer-facing actions a day, whatever the channel; no email cap
    set_policy(tenant, {"email": None, "sms": None, "push": None, "any": {"max": 2, "window_hours": 24}})
    email, sms = notify_rule(tenant, "a", ["email"]), notify_rule(tenant, "b", ["sms"])
    workflow = make_rule(
        tenant,
        name="Follow-up workflow",
        trigger_type="event",
        trigger_config={"event_type": "c"},
        conditions=[],
        action_type="start_workflow",
        action_config={"workflow_type_id": "follow_up"},
    )
    shop_side = make_rule(
        tenant,
        name="Restock",
        trigger_type="event",
        trigger_config={"event_type": "c"},
        conditions=[],
        action_type="add_product",
        action_config={"template_id": "t", "count": 1},
    )

    # when: three events for the same customer, one after another
    for event_type in ("a", "b", "c"):
        emit(tenant, django_capture_on_commit_callbacks, event_type)

    # then: the third customer-facing action is throttled; the shop-side one is never counted or held
    assert statuses(email, sms, workflow) == ["succeeded", "succeeded", "throttled"]
    shop = AutomationExecution.objects.get(automation_rule=shop_side)
    assert shop.status == ExecutionStatus.SUCCEEDED and shop.contact_channels == "" and shop.hold is None
    assert (
        "2 customer-facing actions in the last 24 hours"
        in AutomationExecution.objects.get(automation_rule=workflow).hold["reason"]
    )


def test_exempt_rule_and_run_without_customer_are_not_capped(tenant, owner, django_capture_on_commit_callbacks):
    # given
    set_policy(tenant, EMAIL_ONCE_PER_16H)
    first = notify_rule(tenant, "order_placed", name="Marketing")
    receipt = notify_rule(tenant, "order_placed", name="Order confirmation", contact_cap="exempt")

    # when: two events for one customer, then one with no customer
    emit(tenant, django_capture_on_commit_callbacks, "order_placed", order="1")
    emit(tenant, django_capture_on_commit_callbacks, "order_placed", order="2")
    emit(tenant, django_capture_on_commit_callbacks, "order_placed", customer_id=None, order="3")

    # then: the exempt (transactional) rule always acts, and does not use up the customer's cap
    receipts = AutomationExecution.objects.filter(automation_rule=receipt).order_by("id")
    assert [e.status for e in receipts] == ["succeeded"] * 3
    marketing = AutomationExecution.objects.filter(automation_rule=first).order_by("id")
    assert [e.status for e in marketing] == ["succeeded", "throttled", "succeeded"]
    assert marketing[2].customer_id == "" and marketing[2].contact_channels == ""


def test_skip_versus_defer_the_deferred_one_runs_once_at_its_time(
    tenant, owner, clock, django_capture_on_commit_callbacks
):
    # given: the first email goes out now (real clock); the clock holds read is then frozen an hour on
    set_policy(tenant, EMAIL_ONCE_PER_16H)
    first, skipper = notify_rule(tenant, "first"), notify_rule(tenant, "later", name="Skipper")
    deferrer = notify_rule(tenant, "later", name="Deferrer", when_capped="defer")
    emit(tenant, django_capture_on_commit_callbacks, "first")
    sent = AutomationExecution.objects.get(automation_rule=first)
    assert sent.status == ExecutionStatus.SUCCEEDED
    frees_at = sent.action_started_at + dt.timedelta(hours=16)
    clock(sent.action_started_at + dt.timedelta(hours=1))

    # when
    emit(tenant, django_capture_on_commit_callbacks, "later")

    # then: the skipping rule ended throttled; the deferring one waits until the window frees up
    skipped = AutomationExecution.objects.get(automation_rule=skipper)
    deferred = AutomationExecution.objects.get(automation_rule=deferrer)
    assert skipped.status == ExecutionStatus.THROTTLED and skipped.next_attempt_at is None
    assert deferred.status == ExecutionStatus.DEFERRED and deferred.success is None
    assert deferred.next_attempt_at == frees_at and deferred.action_attempts == 0
    assert deferred.hold["until"] == frees_at.isoformat() and deferred.hold["deferred"] is True
    assert deferred.error_message.startswith(f"Deferred until {frees_at:%Y-%m-%d %H:%M} UTC")
    assert rule_execution_stats(deferrer)["deferred_count"] == 1

    # a minute early: the sweeper leaves it, and running it directly does nothing either
    clock(frees_at - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_outbox(now=frees_at - dt.timedelta(minutes=1))["deferred_queued"] == 0
    execution_run_action(deferred.pk)
    deferred.refresh_from_db()
    assert deferred.status == ExecutionStatus.DEFERRED and deferred.action_attempts == 0

    # at its time the sweeper queues it once and it runs once; sweeping and running again change nothing
    clock(frees_at + dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_outbox(now=frees_at + dt.timedelta(seconds=1))["deferred_queued"] == 1
    deferred.refresh_from_db()
    assert deferred.status == ExecutionStatus.SUCCEEDED and deferred.action_attempts == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_outbox(now=frees_at + dt.timedelta(minutes=5), older_than_seconds=0)["deferred_queued"] == 0
    execution_run_action(deferred.pk)
    deferred.refresh_from_db()
    assert deferred.status == ExecutionStatus.SUCCEEDED and deferred.action_attempts == 1
    assert deferred.hold["kind"] == "contact_cap"  # the audit trail keeps why it waited
    deferrer.refresh_from_db()
    assert deferrer.success_count == 1  # counted once


def test_a_deferred_run_still_capped_at_its_time_is_deferred_again(
    tenant, owner, clock, django_capture_on_commit_callbacks
):
    # given: two emails allowed per 16 h; a deferred run whose slot another rule takes meanwhile
    set_policy(tenant, {"email": {"max": 1, "window_hours": 16}, "any": None})
    first = notify_rule(tenant, "first")
    deferrer = notify_rule(tenant, "later", name="Deferrer", when_capped="defer")
    emit(tenant, django_capture_on_commit_callbacks, "first")
    started = AutomationExecution.objects.get(automation_rule=first).action_started_at
    clock(started + dt.timedelta(hours=1))
    emit(tenant, django_capture_on_commit_callbacks, "later")
    deferred = AutomationExecution.objects.get(automation_rule=deferrer)
    # an exempt-free email went out later (made to look so: a run that started 2 hours in)
    later = AutomationExecution.objects.get(automation_rule=first)
    AutomationExecution.objects.filter(pk=later.pk).update(action_started_at=started + dt.timedelta(hours=2))

    # when: its first time comes
    clock(deferred.next_attempt_at + dt.timedelta(seconds=1))
    execution_run_action(deferred.pk)

    # then: held again, to the new end of the window
    deferred.refresh_from_db()
    assert deferred.status == ExecutionStatus.DEFERRED
    assert deferred.next_attempt_at == started + dt.timedelta(hours=18)


def test_an_approved_execution_is_capped_too(tenant, owner, council_member, clock, django_capture_on_commit_callbacks):
    # given: a high-risk rule waits for its council while a low-risk one emails the customer
    set_policy(tenant, EMAIL_ONCE_PER_16H)
    risky = notify_rule(tenant, "order_placed", name="Risky", risk_level="high")
    notify_rule(tenant, "order_placed", name="Plain")
    emit(tenant, django_capture_on_commit_callbacks, "order_placed")
    waiting = AutomationExecution.objects.get(automation_rule=risky)
    assert waiting.status == ExecutionStatus.AWAITING_APPROVAL

    # when: the council approves
    with django_capture_on_commit_callbacks(execute=True):
        execution_approve(waiting, council_member)

    # then: the hold is checked right before the action: throttled
    waiting.refresh_from_db()
    assert waiting.status == ExecutionStatus.THROTTLED and waiting.action_attempts == 0
    assert waiting.approved_at is not None and waiting.hold["kind"] == "contact_cap"


def test_shadow_rule_records_what_the_cap_would_have_done_and_is_never_held(
    tenant, owner, django_capture_on_commit_callbacks
):
    set_policy(tenant, EMAIL_ONCE_PER_16H)
    notify_rule(tenant, "order_placed", name="Live")
    shadow = notify_rule(tenant, "order_placed", name="Shadow", mode="shadow", when_capped="defer")

    emit(tenant, django_capture_on_commit_callbacks, "order_placed")
    emit(tenant, django_capture_on_commit_callbacks, "order_placed")

    runs = list(AutomationExecution.objects.filter(automation_rule=shadow).order_by("id"))
    assert [run.status for run in runs] == ["shadowed", "shadowed"]  # never held, never counted
    assert runs[0].hold is None  # the live rule's email of the same batch was not recorded yet
    assert runs[1].hold["shadow"] is True and runs[1].hold["kind"] == "contact_cap"


BERLIN_SMS_QUIET = {"sms": {"max": 5, "window_hours": 24, "quiet_hours": {"start": "21:00", "end": "08:00"}}}


@pytest.mark.parametrize(
    ("now", "until"),
    [
        # Saturday 28 March 2026, 22:00 CET; clocks go forward that night: 08:00 CEST is 06:00 UTC
        (dt.datetime(2026, 3, 28, 21, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, 6, 0, tzinfo=dt.UTC)),
        # Saturday 24 October 2026, 22:00 CEST; clocks go back that night: 08:00 CET is 07:00 UTC
        (dt.datetime(2026, 10, 24, 20, 0, tzinfo=dt.UTC), dt.datetime(2026, 10, 25, 7, 0, tzinfo=dt.UTC)),
        # just after midnight on the DST night, still quiet
        (dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, 6, 0, tzinfo=dt.UTC)),
    ],
)
def test_quiet_hours_across_a_dst_change_defer_to_local_morning(
    tenant, owner, clock, django_capture_on_commit_callbacks, now, until
):
    # given: the tenant's zone is Berlin; SMS are quiet from 21:00 to 08:00 local time
    set_policy(tenant, BERLIN_SMS_QUIET, timezone_name="Europe/Berlin")
    rule = notify_rule(tenant, "cart_abandoned", ["sms"], when_capped="defer")
    clock(now)

    # when
    emit(tenant, django_capture_on_commit_callbacks, "cart_abandoned")

    # then: deferred to 08:00 Berlin time on the next morning, whatever the offset is then
    execution = AutomationExecution.objects.get(automation_rule=rule)
    assert execution.status == ExecutionStatus.DEFERRED
    assert execution.next_attempt_at == until
    assert execution.hold["kind"] == "quiet_hours"
    assert "Quiet hours for SMS (21:00 to 08:00, Europe/Berlin) until 2026-" in execution.hold["reason"]

    # a minute early it still waits; at 08:00 local it runs
    clock(until - dt.timedelta(minutes=1))
    execution_run_action(execution.pk)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.DEFERRED
    clock(until)
    execution_run_action(execution.pk)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.action_attempts == 1


def test_quiet_hours_read_in_the_customers_zone_when_the_event_carries_it(
    tenant, owner, clock, django_capture_on_commit_callbacks
):
    # given: 22:00 in Berlin is 13:00 in Los Angeles
    set_policy(tenant, BERLIN_SMS_QUIET, timezone_name="Europe/Berlin")
    rule = notify_rule(tenant, "cart_abandoned", ["sms"], when_capped="defer")
    clock(dt.datetime(2026, 3, 28, 21, 0, tzinfo=dt.UTC))

    # when: one event names the customer's zone, one a zone that does not exist (the tenant's is used)
    emit(tenant, django_capture_on_commit_callbacks, "cart_abandoned", customer_timezone="America/Los_Angeles")
    emit(tenant, django_capture_on_commit_callbacks, "cart_abandoned", customer_timezone="Mars/Olympus")

    # then
    assert [e.status for e in AutomationExecution.objects.filter(automation_rule=rule).order_by("id")] == [
        "succeeded",
        "deferred",
    ]


def test_hold_shown_on_the_execution_page_and_api(tenant, owner, django_capture_on_commit_callbacks):
    # given
    set_policy(tenant, EMAIL_ONCE_PER_16H)
    notify_rule(tenant, "order_placed", name="One")
    notify_rule(tenant, "order_placed", name="Two")
    emit(tenant, django_capture_on_commit_callbacks, "order_placed")
    held = AutomationExecution.objects.get(status=ExecutionStatus.THROTTLED)

    # when
    client = Client()
    client.force_login(owner)
    page = client.get(reverse("automations:execution", args=[held.automation_rule_id, held.pk])).content.decode()
    api = token_client(owner).get(f"/api/executions/{held.pk}").json()

    # then
    assert "Why the action was held back" in page and "already got 1 email in the last 16 hours" in page
    assert "The rule skips a held action" in page
    assert api["status"] == "throttled" and api["customer_id"] == "cust_1"
    assert api["hold"]["kind"] == "contact_cap" and api["hold"]["deferred"] is False
    activity = client.get(reverse("executions:activity")).content.decode()
    assert "Throttled (skipped): This customer already got 1 email" in activity


def test_rule_fields_through_the_api_and_refused_when_bad(tenant, owner):
    client = token_client(owner)
    body = {
        "name": "Order confirmation",
        "trigger_type": "event",
        "trigger_config": {"event_type": "order_placed"},
        "action_type": "send_notification",
        "action_config": {"recipients": ["owner"], "channels": ["email"]},
    }
    created = post_json(client, "/api/automations", body)
    assert created.status_code == 201, created.content
    rule = created.json()["automation"] if "automation" in created.json() else created.json()
    assert (rule["contact_cap"], rule["when_capped"]) == ("obey", "skip")

    refused = post_json(client, "/api/automations", {**body, "contact_cap": "sometimes", "when_capped": "later"})
    assert refused.status_code == 400
    errors = refused.json()
    text = str(errors)
    assert "contact_cap" in text and "when_capped" in text

    exempt = post_json(client, "/api/automations", {**body, "name": "Receipt", "contact_cap": "exempt"})
    assert exempt.status_code == 201
    schema = client.get("/api/schema/").content.decode()
    assert "contact_cap:" in schema and "when_capped:" in schema and "throttled_count:" in schema


def test_tenant_policy_refused_when_bad_in_the_service_and_the_admin(tenant, owner):
    from django.core.exceptions import ValidationError

    bad = {"email": {"max": 0, "window_hours": 16}, "fax": {"max": 1, "window_hours": 1}}
    with pytest.raises(ValidationError) as refused:
        tenant_update(tenant, {"contact_policy": bad})
    assert "contact_policy" in refused.value.message_dict
    message = " ".join(refused.value.message_dict["contact_policy"])
    assert "email.max" in message and '"fax" is not a channel' in message
    tenant.refresh_from_db()
    assert tenant.contact_policy == {}

    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(owner)
    url = f"/admin/governance/tenant/{tenant.pk}/change/"
    form = tenant_admin_form(
        tenant,
        contact_policy='{"sms": {"max": 1, "window_hours": 24, "quiet_hours": {"start": "25:00", "end": "08:00"}}}',
    )
    page = client.post(url, form)
    assert page.status_code == 200
    assert "sms.quiet_hours.start" in page.content.decode()
    tenant.refresh_from_db()
    assert tenant.contact_policy == {}
    form["contact_policy"] = (
        '{"sms": {"max": 2, "window_hours": 24, "quiet_hours": {"start": "21:00", "end": "08:00"}}}'
    )
    assert client.post(url, form).status_code == 302
    tenant.refresh_from_db()
    assert tenant.contact_policy["sms"]["max"] == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_deciding_for_one_customer_at_once_do_not_both_pass(tenant, owner, clock):
    """Two approved executions for one customer, run by two threads at the same moment: one acts."""
    # PostgreSQL: the (tenant, customer) advisory lock; SQLite: the transaction's one write lock.
    from executions.pipeline.create import TriggerRequest, executions_create
    from governance.common.db_locks import write_transaction

    set_policy(tenant, EMAIL_ONCE_PER_16H)
    rules = [notify_rule(tenant, "order_placed", name=f"Rule {n}") for n in range(2)]
    with write_transaction():
        created = executions_create(
            [TriggerRequest(rule, "behavior", {"customer_id": "cust_9"}, occurrence_key="o") for rule in rules]
        )
    ids = [execution.pk for execution in created]
    AutomationExecution.objects.filter(pk__in=ids).update(status=ExecutionStatus.APPROVED)
    clock(timezone.now())
    start = threading.Barrier(2)

    def run(execution_id: int) -> None:
        try:
            start.wait()
            execution_run_action(execution_id)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(execution_id,)) for execution_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(AutomationExecution.objects.filter(pk__in=ids).values_list("status", flat=True)) == [
        "succeeded",
        "throttled",
    ]


def test_a_behaviour_run_is_capped_by_its_customer(tenant, owner):
    from executions.pipeline.create import TriggerRequest, trigger_rules

    set_policy(tenant, EMAIL_ONCE_PER_16H)
    rule = notify_rule(tenant, "unused")
    requests = [
        TriggerRequest(rule, "behavior", {"customer_id": "c7"}, occurrence_key=f"behavior:c7:{n}") for n in (1, 2)
    ]
    created = trigger_rules(requests)
    assert [execution.customer_id for execution in created] == ["c7", "c7"]
    from executions.pipeline.run import run_executions

    run_executions([execution.pk for execution in created])
    assert sorted(AutomationExecution.objects.filter(automation_rule=rule).values_list("status", flat=True)) == [
        "succeeded",
        "throttled",
    ]


def test_rule_fields_in_the_portal_builder_and_refused_when_bad(tenant, owner):
    from automations.models import AutomationRule
    from tests.automations.test_views import VALID_POST

    client = Client()
    client.force_login(owner)
    page = client.get("/portal/automations/builder/new").content.decode()
    assert 'name="contact_cap"' in page and 'name="when_capped"' in page

    refused = client.post("/portal/automations/builder/new", {**VALID_POST, "contact_cap": "sometimes"})
    assert refused.status_code == 400
    assert 'id="f-contact_cap-error"' in refused.content.decode()
    assert not AutomationRule.objects.filter(tenant=tenant).exists()

    saved = client.post(
        "/portal/automations/builder/new", {**VALID_POST, "contact_cap": "exempt", "when_capped": "defer"}
    )
    assert saved.status_code == 302
    rule = AutomationRule.objects.get(tenant=tenant)
    assert (rule.contact_cap, rule.when_capped) == ("exempt", "defer")


def test_a_deferred_run_of_a_rule_disabled_meanwhile_is_blocked_not_run(
    tenant, owner, clock, django_capture_on_commit_callbacks
):
    from automations.services import rule_set_enabled

    set_policy(tenant, EMAIL_ONCE_PER_16H)
    notify_rule(tenant, "first")
    deferrer = notify_rule(tenant, "later", name="Deferrer", when_capped="defer")
    emit(tenant, django_capture_on_commit_callbacks, "first")
    emit(tenant, django_capture_on_commit_callbacks, "later")
    deferred = AutomationExecution.objects.get(automation_rule=deferrer)
    assert deferred.status == ExecutionStatus.DEFERRED

    rule_set_enabled(deferrer, False, owner)
    clock(deferred.next_attempt_at + dt.timedelta(seconds=1))
    execution_run_action(deferred.pk)

    deferred.refresh_from_db()
    assert deferred.status == ExecutionStatus.BLOCKED and deferred.action_attempts == 0
    assert deferred.failure_kind == "rule_inactive"


def test_changing_the_contact_fields_makes_a_version_described_in_words(tenant, owner):
    from automations.rule_history import rule_version_history
    from automations.services import rule_update

    rule = notify_rule(tenant, "order_placed")
    rule = rule_update(rule, {"contact_cap": "exempt"}, owner)

    latest = rule_version_history(rule)[0]
    assert rule.version == 2
    assert "Contact caps was obeyed (skip when held); now exempt (transactional)" in " ".join(latest.description)


def test_rule_fields_in_the_admin_refused_when_bad_kept_when_left_out(tenant, owner):
    from urllib.parse import quote

    from automations.models import AutomationRule
    from tests.governance.test_policy_surfaces import admin_rule_form

    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(owner)
    form = admin_rule_form("From admin", "low", tenant.pk)

    refused = client.post("/admin/automations/automationrule/add/", {**form, "when_capped": "later"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not AutomationRule.objects.exists()

    created = client.post("/admin/automations/automationrule/add/", {**form, "contact_cap": "exempt"})
    assert created.status_code == 302
    rule = AutomationRule.objects.get()
    assert (rule.contact_cap, rule.when_capped) == ("exempt", "skip")  # left out: the default

    edited = client.post(f"/admin/automations/automationrule/{quote(rule.pk)}/change/", {**form, "name": "Renamed"})
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.contact_cap, rule.when_capped) == ("Renamed", "exempt", "skip")  # kept


def test_a_builder_post_without_the_contact_fields_keeps_the_rules_values(tenant, owner):
    from automations.models import AutomationRule
    from tests.automations.test_views import VALID_POST

    client = Client()
    client.force_login(owner)
    assert client.post("/portal/automations/builder/new", {**VALID_POST, "contact_cap": "exempt"}).status_code == 302
    rule = AutomationRule.objects.get(tenant=tenant)
    assert (rule.contact_cap, rule.when_capped) == ("exempt", "skip")

    assert client.post(f"/portal/automations/builder/{rule.pk}", {**VALID_POST, "name": "Renamed"}).status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.contact_cap) == ("Renamed", "exempt")
