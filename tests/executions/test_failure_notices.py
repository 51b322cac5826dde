"""Failure notices grouped per rule and window (issue 17 item 6): one notice that counts, not one per failure;
emails per the tenant's failure_messages; exact under concurrent workers; the inbox's mark all read."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from executions.choices import ExecutionStatus, NotificationKind
from executions.delivery.services import endpoint_create
from executions.failure_notices import (
    failure_digests_send,
    failure_group_key,
    failure_notice_record,
    failure_window,
)
from executions.models import AutomationExecution, Notification
from executions.services import emit_event
from governance.choices import FailureMessages
from governance.models import Tenant
from tests.api import post_json, staff_client, token_client
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply
from tests.executions.workers import race
from tests.factories import make_execution, make_user
from tests.overrides import override_automations

PRODUCT = {"product_id": "p_1", "name": "Winter hat"}
WINDOW_TITLE = 'Automation "Restock after a new product" failed {} times in the last hour: receiver refused'


def failure_notices(**filters):
    return Notification.objects.filter(kind=NotificationKind.EXECUTION_FAILED, **filters)


def set_failure_messages(tenant, mode: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(failure_messages=mode)


@pytest.fixture
def owner_with_email(owner):
    owner.email = "alice@shop.test"
    owner.save(update_fields=["email"])
    return owner


@pytest.fixture
def refusing_endpoint(tenant, sink, loopback_allowed):
    sink.reply(*[Reply(status=400, body=b"bad")] * 10)
    return endpoint_create(tenant, sink.url(), action_type="add_product", description="platform")


def fail_times(tenant, capture, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        with capture(execute=True):
            emit_event(tenant.pk, "product_added", dict(PRODUCT), source="store", idempotency_key=f"evt-{index}")


# --- windows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "minutes", "start"),
    [
        ("2026-03-04T14:59:59+00:00", 60, "2026-03-04T14:00:00+00:00"),
        ("2026-03-04T15:00:00+00:00", 60, "2026-03-04T15:00:00+00:00"),
        ("2026-03-04T15:44:00+01:00", 30, "2026-03-04T14:30:00+00:00"),
    ],
)
def test_windows_are_aligned_to_the_clock_in_utc(moment, minutes, start):
    begin, end = failure_window(dt.datetime.fromisoformat(moment), minutes)
    assert begin == dt.datetime.fromisoformat(start) and end - begin == dt.timedelta(minutes=minutes)
    assert failure_group_key("automation_x", begin) == f"failed:automation_x:{begin:%Y%m%dT%H%M}Z"


# --- one notice per rule and window ------------------------------------------------------------------


@pytest.mark.django_db
def test_many_failures_of_a_rule_make_one_notice_that_counts_and_one_email(
    tenant, owner_with_email, event_rule, active_store, refusing_endpoint, django_capture_on_commit_callbacks
):
    # given: a second owner
    second = make_user("dora", tenant, "owner", email="dora@shop.test")

    # when: the rule fails 5 times in the window
    fail_times(tenant, django_capture_on_commit_callbacks, 5)

    # then: one notice per owner, counting 5, naming the latest reason; one email each, at the first failure
    assert AutomationExecution.objects.filter(status=ExecutionStatus.FAILED).count() == 5
    for user in (owner_with_email, second):
        (notice,) = failure_notices(user=user)
        assert notice.occurrences == 5
        assert notice.title == WINDOW_TITLE.format(5)
        assert notice.body.startswith("Latest: The webhook endpoint http://127.0.0.1:")
        assert notice.execution_id == AutomationExecution.objects.latest("id").pk
    assert sorted(message.to[0] for message in mail.outbox) == ["alice@shop.test", "dora@shop.test"]
    assert mail.outbox[0].subject == 'Automation "Restock after a new product" failed: receiver refused'


@pytest.mark.django_db
def test_a_failure_after_the_window_starts_a_new_notice_and_news_makes_it_unread_again(tenant, owner, event_rule):
    window_start, window_end = failure_window(timezone.now())
    first, second, third = (
        make_execution(event_rule, "failed", failure_kind="timed_out", error_message="x") for _ in range(3)
    )

    failure_notice_record(first.pk, now=window_start + dt.timedelta(minutes=1))
    failure_notices(user=owner).update(read_at=timezone.now())
    failure_notice_record(second.pk, now=window_start + dt.timedelta(minutes=2))
    failure_notice_record(third.pk, now=window_end + dt.timedelta(minutes=1))

    current, earlier = failure_notices(user=owner).order_by("-created_at")
    assert (earlier.occurrences, earlier.read_at) == (2, None)
    assert "failed 2 times in the last hour: timed out" in earlier.title
    assert current.occurrences == 1 and current.title.endswith("failed: timed out")


@pytest.mark.django_db
@override_automations(FAILURE_NOTICE_WINDOW_MINUTES=30)
def test_the_window_length_is_a_setting_and_the_title_says_it(tenant, owner, event_rule):
    executions = [make_execution(event_rule, "failed", failure_kind="timed_out") for _ in range(2)]
    for execution in executions:
        failure_notice_record(execution.pk)
    (notice,) = failure_notices(user=owner)
    assert "failed 2 times in the last 30 minutes: timed out" in notice.title


@pytest.mark.django_db
def test_only_the_rules_tenant_owners_hear_of_it(tenant, owner, collaborator, other_owner, event_rule):
    execution = make_execution(event_rule, "failed", failure_kind="timed_out")

    failure_notice_record(execution.pk)

    assert list(failure_notices().values_list("user_id", flat=True)) == [owner.pk]


# --- emails: the tenant's failure_messages ------------------------------------------------------------


@pytest.mark.django_db
def test_an_hourly_digest_sends_one_email_per_owner_listing_the_rules(tenant, owner_with_email, event_rule):
    # given: the digest mode, and two rules failing
    set_failure_messages(tenant, FailureMessages.HOURLY_DIGEST)
    other_rule = make_event_rule(tenant, owner_with_email, name="Welcome mail")
    for rule, times in ((event_rule, 3), (other_rule, 1)):
        for _ in range(times):
            failure_notice_record(make_execution(rule, "failed", failure_kind="receiver_down").pk)
    assert mail.outbox == []  # nothing at once

    # when
    sent = failure_digests_send()

    # then: one email listing both rules, and nothing more until there is news
    assert (sent.notices, sent.users, sent.messages) == (2, 1, 1)
    (email,) = mail.outbox
    assert email.to == ["alice@shop.test"] and email.subject == "2 automations failed in the last hour"
    assert 'Automation "Restock after a new product" failed 3 times in the last hour' in email.body
    assert 'Automation "Welcome mail" failed: receiver unavailable' in email.body
    assert failure_digests_send().notices == 0
    failure_notice_record(make_execution(event_rule, "failed", failure_kind="receiver_down").pk)
    assert failure_digests_send().notices == 1
    assert "failed 4 times" in mail.outbox[-1].body


@pytest.mark.django_db
def test_no_messages_keeps_the_in_app_notice_only(tenant, owner_with_email, event_rule):
    set_failure_messages(tenant, FailureMessages.NONE)

    failure_notice_record(make_execution(event_rule, "failed", failure_kind="receiver_down").pk)

    assert failure_notices(user=owner_with_email).count() == 1
    assert mail.outbox == [] and failure_digests_send().notices == 0


# --- exact under concurrent workers -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted_in_one_notice_with_one_email(tenant, owner_with_email, event_rule):
    # given: 4 workers, each recording 10 failures of the same rule at the same moment
    second = make_user("dora", tenant, "owner", email="dora@shop.test")
    ids = [make_execution(event_rule, "failed", failure_kind="receiver_refused").pk for _ in range(40)]
    now = timezone.now()

    def worker(chunk: list[int]) -> int:
        for execution_id in chunk:
            failure_notice_record(execution_id, now=now)
        return len(chunk)

    # when
    outcomes = race(*[lambda chunk=ids[i::4]: worker(chunk) for i in range(4)])

    # then: every failure counted once, one row per owner, one email per owner, the title's count exact
    assert outcomes == [10, 10, 10, 10], outcomes
    for user in (owner_with_email, second):
        (notice,) = failure_notices(user=user)
        assert notice.occurrences == 40 and "failed 40 times" in notice.title
    assert sorted(message.to[0] for message in mail.outbox) == ["alice@shop.test", "dora@shop.test"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_digests_send_each_notice_once(tenant, owner_with_email, event_rule):
    set_failure_messages(tenant, FailureMessages.HOURLY_DIGEST)
    rules = [event_rule] + [make_event_rule(tenant, owner_with_email, name=f"Rule {i}") for i in range(5)]
    for rule in rules:
        failure_notice_record(make_execution(rule, "failed", failure_kind="timed_out").pk)

    outcomes = race(*[failure_digests_send for _ in range(3)])

    assert sum(outcome.notices for outcome in outcomes) == 6, outcomes
    listed = "".join(message.body for message in mail.outbox)
    assert all(listed.count(f'"{rule.name}"') == 1 for rule in rules)


# --- the inbox: mark all read, in the portal and the API ----------------------------------------------


@pytest.fixture
def inbox(tenant, other_tenant, owner, other_owner):
    from governance.services import membership_set

    membership_set(other_tenant, owner, "owner")
    made = [
        Notification.objects.create(tenant=tenant, user=owner, kind=NotificationKind.EXECUTION_FAILED, title="a"),
        Notification.objects.create(tenant=tenant, user=owner, kind=NotificationKind.EXECUTION_FAILED, title="b"),
        Notification.objects.create(tenant=other_tenant, user=owner, kind=NotificationKind.EXECUTION_FAILED, title="c"),
        Notification.objects.create(
            tenant=other_tenant, user=other_owner, kind=NotificationKind.EXECUTION_FAILED, title="theirs"
        ),
    ]
    return made


def unread_titles(user) -> list[str]:
    return sorted(Notification.objects.filter(user=user, read_at__isnull=True).values_list("title", flat=True))


@pytest.mark.django_db
def test_the_api_marks_all_read_in_one_tenant_or_all_of_yours(tenant, other_tenant, owner, other_owner, inbox):
    client = token_client(owner)

    one = post_json(client, "/api/notifications/read-all", {"tenant_id": tenant.pk})
    assert one.status_code == 200 and one.json()["marked_read"] == 2
    assert unread_titles(owner) == ["c"]
    everything = post_json(client, "/api/notifications/read-all", {})
    assert everything.json()["marked_read"] == 1 and unread_titles(owner) == []
    assert unread_titles(other_owner) == ["theirs"]  # never anyone else's
    assert client.get("/api/notifications").json()["unread_count"] == 0


@pytest.mark.django_db
def test_the_api_refuses_a_tenant_you_are_not_in_and_a_bad_body(tenant, owner, other_owner, inbox):
    charlie = token_client(other_owner)

    assert post_json(charlie, "/api/notifications/read-all", {"tenant_id": tenant.pk}).status_code == 403
    assert post_json(charlie, "/api/notifications/read-all", {"tenant_id": 7}).status_code == 400
    assert post_json(charlie, "/api/notifications/read-all", [1]).status_code == 400
    assert unread_titles(owner) == ["a", "b", "c"]


@pytest.mark.django_db
def test_the_portal_marks_all_read_in_the_current_tenant(tenant, owner, other_owner, inbox):
    client = staff_client(owner)
    assert client.post("/portal/tenant", {"tenant": tenant.pk}).status_code == 302

    response = client.post("/portal/notifications/read")

    assert response.status_code == 302
    assert unread_titles(owner) == ["c"]  # the other tenant's notice waits for that tenant's inbox
    assert unread_titles(other_owner) == ["theirs"]


@pytest.mark.django_db
def test_the_api_shows_how_often_a_grouped_notice_happened(tenant, owner, event_rule):
    for _ in range(3):
        failure_notice_record(make_execution(event_rule, "failed", failure_kind="timed_out").pk)

    (notice,) = token_client(owner).get("/api/notifications").json()["notifications"]

    assert notice["occurrences"] == 3 and notice["last_occurred_at"] is not None
