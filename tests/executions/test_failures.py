"""Failure kinds: the classifier's table (pure), and every path that fails an execution stores its kind."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from automations.models import success_rate_health
from automations.services import rule_archive
from executions.choices import FAILURE_STATUSES, ExecutionStatus, FailureKind
from executions.delivery.services import endpoint_create
from executions.failures import (
    FAILURE_KINDS,
    DeliveryFact,
    delivery_failure_kind,
    failure_explanation,
    failure_kind_for,
)
from executions.models import AutomationExecution
from executions.selectors import rule_failure_reasons
from executions.services import emit_event, execution_reject
from tests.api import staff_client, token_client
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply, assert_webhooks_verified
from tests.factories import make_execution
from tests.overrides import override_automations

PRODUCT = {"product_id": "p_1", "name": "Winter hat"}


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (ExecutionStatus.SUCCEEDED, "", ""),
        (ExecutionStatus.SKIPPED, "", ""),
        (ExecutionStatus.RUNNING, "attempt 1: timeout; retrying", ""),
        (ExecutionStatus.FAILED, "webhook delivery failed: delivery 5: HTTP 400", FailureKind.RECEIVER_REFUSED),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 5: HTTP 410 Gone: endpoint disabled",
            "receiver_refused",
        ),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 5: HTTP 302 redirect to /x (not followed)",
            "receiver_refused",
        ),
        (ExecutionStatus.RETRYING, "webhook delivery pending: delivery 7: HTTP 503", FailureKind.RECEIVER_DOWN),
        (ExecutionStatus.RETRYING, "webhook delivery pending: delivery 7: HTTP 429", FailureKind.RECEIVER_DOWN),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 7: Connection failed: ConnectionRefusedError [Errno 111]",
            FailureKind.RECEIVER_DOWN,
        ),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 7: TLS error: bad cert.",
            FailureKind.RECEIVER_DOWN,
        ),
        (
            ExecutionStatus.RETRYING,
            "webhook delivery pending: delivery 7: Timed out: timed out.",
            FailureKind.TIMED_OUT,
        ),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 7: No complete response within the total timeout of 30 s.",
            FailureKind.TIMED_OUT,
        ),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 7: The endpoint was deleted.",
            FailureKind.NO_ENDPOINT,
        ),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 7: The endpoint is disabled: HTTP 410",
            FailureKind.NO_ENDPOINT,
        ),
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 7: Destination refused: 10.0.0.1 is a private address.",
            FailureKind.DESTINATION_REFUSED,
        ),
        # two deliveries: the one a person must fix first names the kind
        (
            ExecutionStatus.FAILED,
            "webhook delivery failed: delivery 1: HTTP 503; delivery 2: HTTP 401",
            FailureKind.RECEIVER_REFUSED,
        ),
        (
            ExecutionStatus.FAILED,
            "the outcome is still unknown after 3 attempts: webhook delivery pending: delivery 3: HTTP 502",
            FailureKind.RECEIVER_DOWN,
        ),
        (
            ExecutionStatus.FAILED,
            "attempt 3: the worker was lost while the action ran; its outcome is unknown, and no attempts remain",
            FailureKind.OUTCOME_UNKNOWN,
        ),
        (ExecutionStatus.FAILED, "the outcome is still unknown after 3 attempts: connection reset", "outcome_unknown"),
        (ExecutionStatus.RETRYING, "attempt 1: timeout; retrying with the same idempotency key", "outcome_unknown"),
        (ExecutionStatus.FAILED, "the rule's conditions could not be evaluated: KeyError: 'x'", "condition_error"),
        (ExecutionStatus.FAILED, "the rule's governance could not decide: ValueError: no", "governance_error"),
        (ExecutionStatus.FAILED, 'no handler for action type "gone"; known types: a, b', FailureKind.ACTION_ERROR),
        (ExecutionStatus.FAILED, "RuntimeError: the platform said no", FailureKind.INTERNAL_ERROR),
        (ExecutionStatus.REJECTED, "rejected by carol: not now", FailureKind.GOVERNANCE_REJECTED),
        (ExecutionStatus.CANCELLED, "cancelled: the rule was archived", FailureKind.APPROVAL_CANCELLED),
        (ExecutionStatus.BLOCKED, "loop protection: event #4 is 6 actions deep", FailureKind.CAP_REACHED),
        (
            ExecutionStatus.BLOCKED,
            'chain loop: the rule "R" already ran for product_id p_1 earlier in this chain of actions, as execution #3',
            FailureKind.CHAIN_LOOP,
        ),
        (
            ExecutionStatus.RETRYING,
            "webhook delivery pending: delivery 5: Endpoint unhealthy: its recent attempts kept failing",
            FailureKind.RECEIVER_DOWN,
        ),
        (
            ExecutionStatus.BLOCKED,
            "this execution needs council approval, but the tenant has no council",
            FailureKind.NO_COUNCIL,
        ),
        (ExecutionStatus.BLOCKED, "the rule was disabled or archived before this execution ran", "rule_inactive"),
        (ExecutionStatus.BLOCKED, "", FailureKind.INTERNAL_ERROR),
    ],
)
def test_failure_kind_for_reads_the_status_and_the_pipelines_error(status, error, kind):
    assert failure_kind_for(status, error) == kind


def test_an_unrecognised_action_error_takes_the_callers_default():
    assert failure_kind_for(ExecutionStatus.FAILED, "boom", default=FailureKind.ACTION_ERROR) == "action_error"
    assert failure_kind_for(ExecutionStatus.SUCCEEDED, "boom", default=FailureKind.ACTION_ERROR) == ""


def test_every_failure_status_gets_a_kind_and_every_kind_fits_the_column():
    assert all(failure_kind_for(status, "") for status in FAILURE_STATUSES)
    assert max(len(value) for value in FailureKind.values) <= 32


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        ("HTTP 400", 400, FailureKind.RECEIVER_REFUSED),
        ("", 404, FailureKind.RECEIVER_REFUSED),
        ("", 500, FailureKind.RECEIVER_DOWN),
        ("Timed out: no answer in time.", None, FailureKind.TIMED_OUT),
        ("nothing known", None, ""),
    ],
)
def test_delivery_failure_kind_prefers_the_status_code(error, code, kind):
    assert delivery_failure_kind(error, code) == kind


# --- the pipeline stores the kind ----------------------------------------------------------------


def emit(tenant, capture, **kwargs):
    with capture(execute=True):
        return emit_event(tenant.pk, "product_added", dict(PRODUCT), source="store", **kwargs)


@pytest.fixture
def endpoint(tenant, sink, loopback_allowed):
    return endpoint_create(tenant, sink.url(), action_type="add_product", description="platform")


@pytest.mark.django_db
def test_a_refused_webhook_fails_with_receiver_refused(
    tenant, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    sink.reply(Reply(status=400, body=b"bad"))

    emit(tenant, django_capture_on_commit_callbacks)

    execution = AutomationExecution.objects.get()
    assert (execution.status, execution.failure_kind) == (ExecutionStatus.FAILED, FailureKind.RECEIVER_REFUSED)


@pytest.mark.django_db
def test_a_receiver_that_errors_leaves_the_execution_retrying_as_receiver_down_and_success_clears_it(
    tenant, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from executions.delivery.models import WebhookDelivery
    from executions.services.delivery_settlement import send_due_deliveries_and_settle

    # given: the first attempt gets a 503
    sink.reply(Reply(status=503, body=b"down"))
    emit(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()
    assert (execution.status, execution.failure_kind) == (ExecutionStatus.RETRYING, FailureKind.RECEIVER_DOWN)

    # when: the retry is delivered
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    send_due_deliveries_and_settle()

    # then
    execution.refresh_from_db()
    assert (execution.status, execution.failure_kind) == (ExecutionStatus.SUCCEEDED, "")


@pytest.mark.django_db
def test_a_deleted_endpoint_fails_the_retry_with_no_endpoint(
    tenant, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from executions.delivery.models import WebhookDelivery
    from executions.services.delivery_settlement import execution_settle_deliveries, send_due_deliveries_and_settle

    sink.reply(Reply(status=503, body=b"down"))
    emit(tenant, django_capture_on_commit_callbacks)
    assert_webhooks_verified(sink)  # the first attempt, checked while its endpoint's secret exists
    sink.requests.clear()
    endpoint.endpoint.delete()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))

    send_due_deliveries_and_settle()  # ends the delivery unsent
    execution = AutomationExecution.objects.get()
    execution_settle_deliveries(execution.pk)  # as the outbox sweeper's run_action does for an unsent end

    execution.refresh_from_db()
    assert (execution.status, execution.failure_kind) == (ExecutionStatus.FAILED, FailureKind.NO_ENDPOINT)


def raising_handler(execution, config, deliver):
    raise RuntimeError("the platform said no")


@pytest.mark.django_db
def test_an_action_that_raises_fails_with_action_error(
    tenant, owner, event_rule, active_store, django_capture_on_commit_callbacks
):
    with override_automations(ACTION_HANDLERS={"add_product": "tests.executions.test_failures.raising_handler"}):
        emit(tenant, django_capture_on_commit_callbacks)

    execution = AutomationExecution.objects.get()
    assert (execution.status, execution.failure_kind) == (ExecutionStatus.FAILED, FailureKind.ACTION_ERROR)


@pytest.mark.django_db
def test_loop_protection_blocks_with_cap_reached(tenant, event_rule, active_store, django_capture_on_commit_callbacks):
    emit(tenant, django_capture_on_commit_callbacks, causation_depth=6)

    execution = AutomationExecution.objects.get()
    assert (execution.status, execution.failure_kind) == (ExecutionStatus.BLOCKED, FailureKind.CAP_REACHED)


@pytest.mark.django_db
def test_a_rule_without_a_council_blocks_with_no_council(
    tenant, owner, active_store, django_capture_on_commit_callbacks
):
    from governance.models import Council

    make_event_rule(tenant, owner, name="Risky restock", risk_level="high")
    Council.objects.filter(tenant=tenant).delete()  # a state services never leave, met by a guard

    emit(tenant, django_capture_on_commit_callbacks)

    execution = AutomationExecution.objects.get()
    assert (execution.status, execution.failure_kind) == (ExecutionStatus.BLOCKED, FailureKind.NO_COUNCIL)


@pytest.mark.django_db
def test_a_rejection_and_a_cancellation_carry_their_kinds(
    tenant, owner, council_member, risky_rule, active_store, django_capture_on_commit_callbacks
):
    emit(tenant, django_capture_on_commit_callbacks, idempotency_key="one")
    emit(tenant, django_capture_on_commit_callbacks, idempotency_key="two")
    first, second = AutomationExecution.objects.order_by("id")
    assert first.failure_kind == "" and first.status == ExecutionStatus.AWAITING_APPROVAL

    with django_capture_on_commit_callbacks(execute=True):
        execution_reject(first, council_member, "not now")
        rule_archive(risky_rule, owner)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.failure_kind) == (ExecutionStatus.REJECTED, FailureKind.GOVERNANCE_REJECTED)
    assert (second.status, second.failure_kind) == (ExecutionStatus.CANCELLED, FailureKind.APPROVAL_CANCELLED)


@pytest.mark.django_db
def test_the_data_migration_classifies_stored_failures_from_their_errors(tenant, event_rule):
    # given: executions stored before the field existed
    rows = [
        (ExecutionStatus.FAILED, "webhook delivery failed: delivery 1: HTTP 404"),
        (ExecutionStatus.BLOCKED, "loop protection: event #4 is 6 actions deep"),
        (ExecutionStatus.FAILED, "something odd"),
        (ExecutionStatus.SUCCEEDED, ""),
    ]
    created = [
        AutomationExecution.objects.create(
            automation_rule=event_rule,
            tenant=tenant,
            trigger_source="event",
            status=status,
            success=status == ExecutionStatus.SUCCEEDED,
            error_message=error,
        )
        for status, error in rows
    ]
    migration = importlib.import_module("executions.migrations.0015_failure_kind_backfill")

    # when: run with a batch smaller than the rows, twice (an interrupted run resumes)
    migration.BATCH = 1
    try:
        migration.classify_existing(django_apps, None)
        migration.classify_existing(django_apps, None)
    finally:
        migration.BATCH = 2000

    # then
    kinds = [AutomationExecution.objects.get(pk=e.pk).failure_kind for e in created]
    assert kinds == [FailureKind.RECEIVER_REFUSED, FailureKind.CAP_REACHED, FailureKind.INTERNAL_ERROR, ""]


# --- in plain English ----------------------------------------------------------------------------


def test_every_kind_has_a_cause_a_next_step_and_a_row_in_the_docs():
    from pathlib import Path

    from django.conf import settings

    from executions.failures import FAILURE_KINDS

    docs = (Path(settings.BASE_DIR) / "docs" / "failures.md").read_text()
    assert set(FAILURE_KINDS) == set(FailureKind.values)
    for kind, spec in FAILURE_KINDS.items():
        assert spec.cause and spec.next_step, kind
        assert f"| `{kind}` |" in docs, kind


@pytest.mark.parametrize(
    ("kind", "status", "error", "deliveries", "cause"),
    [
        (
            "receiver_refused",
            "failed",
            "webhook delivery failed: delivery 5: HTTP 400",
            [DeliveryFact("https://hooks.example.com/x", 400, "HTTP 400")],
            "The webhook endpoint https://hooks.example.com/x answered 400 Bad Request",
        ),
        (
            "receiver_down",
            "retrying",
            "webhook delivery pending: delivery 5: Connection failed: ConnectionRefusedError.",
            [DeliveryFact("https://a.example/", None, "Connection failed: ConnectionRefusedError.")],
            "The webhook endpoint https://a.example/ could not be reached (Connection failed: ConnectionRefusedError)",
        ),
        # no stored delivery rows: the answers the error recorded, without the URL
        (
            "receiver_down",
            "failed",
            "webhook delivery failed: delivery 5: HTTP 503; delivery 6: HTTP 502",
            [],
            "The webhook endpoint answered 503 Service Unavailable",
        ),
        ("timed_out", "failed", "", [], "The webhook endpoint did not answer in time"),
        (
            "no_endpoint",
            "failed",
            "webhook delivery failed: delivery 5: The endpoint was deleted.",
            [DeliveryFact("", None, "The endpoint was deleted.")],
            "The command was not sent: the endpoint was deleted",
        ),
        (
            "condition_error",
            "failed",
            "the rule's conditions could not be evaluated: KeyError: 'x'",
            [],
            "The rule's conditions could not be evaluated: KeyError: 'x'",
        ),
        (
            "cap_reached",
            "blocked",
            "loop protection: event #4 is 6 actions deep",
            [],
            "Loop protection stopped it: event #4 is 6 actions deep",
        ),
        # a row stored before classification: classified when shown
        (
            "",
            "rejected",
            "rejected by carol: not now",
            [],
            "The council rejected this run: rejected by carol: not now",
        ),
    ],
)
def test_failure_explanation_says_what_happened(kind, status, error, deliveries, cause):
    explained = failure_explanation(kind, status, error, deliveries)
    assert explained is not None and explained.cause == cause
    assert explained.next_step


def test_a_status_that_did_not_fail_has_no_explanation():
    assert failure_explanation("", ExecutionStatus.SUCCEEDED, "") is None


@pytest.mark.django_db
def test_a_refused_delivery_is_explained_on_the_execution_page_the_activity_log_and_the_api(
    tenant, owner, event_rule, active_store, sink, endpoint, django_capture_on_commit_callbacks
):
    # given: the receiver answers 400
    sink.reply(Reply(status=400, body=b"bad"))
    emit(tenant, django_capture_on_commit_callbacks)
    execution = AutomationExecution.objects.get()
    cause = f"The webhook endpoint {sink.url()} answered 400 Bad Request"

    # when / then: the execution page
    client = staff_client(owner)
    page = client.get(f"/portal/automations/{event_rule.pk}/executions/{execution.pk}").content.decode()
    assert "What went wrong" in page and f"{cause}." in page
    assert "Check the receiver" in page and 'href="/portal/settings/webhooks"' in page

    # the activity log row and the rule's history
    activity = client.get("/portal/activity").content.decode()
    assert 'data-failure-kind="receiver_refused"' in activity and cause in activity
    history = client.get(f"/portal/automations/{event_rule.pk}").content.decode()
    assert 'data-failure-kind="receiver_refused"' in history

    # the API: one execution, the list, the rule's executions
    api = token_client(owner)
    one = api.get(f"/api/executions/{execution.pk}").json()
    assert one["failure_kind"] == "receiver_refused"
    assert one["failure"] == {
        "kind": "receiver_refused",
        "label": "Receiver refused",
        "cause": cause,
        "next_step": FAILURE_KINDS["receiver_refused"].next_step,
    }
    assert api.get("/api/executions").json()["executions"][0]["failure"]["cause"] == cause
    assert api.get(f"/api/automations/{event_rule.pk}/executions").json()["executions"][0]["failure"] == one["failure"]
    assert api.get(f"/api/automations/{event_rule.pk}").json()["recent_executions"][0]["failure"] == one["failure"]


@pytest.mark.django_db
def test_a_succeeded_execution_has_no_failure_in_the_api(tenant, owner, event_rule):
    execution = make_execution(event_rule, "succeeded")

    body = token_client(owner).get(f"/api/executions/{execution.pk}").json()

    assert (body["failure_kind"], body["failure"]) == ("", None)


@pytest.mark.django_db
def test_another_tenant_never_sees_a_failure(tenant, owner, other_owner, event_rule):
    execution = make_execution(event_rule, "failed", failure_kind="receiver_refused", error_message="HTTP 400")

    assert token_client(other_owner).get(f"/api/executions/{execution.pk}").status_code == 404
    assert token_client(other_owner).get("/api/executions").json()["executions"] == []
    assert staff_client(other_owner).get(f"/portal/automations/{event_rule.pk}").status_code == 404
    assert "HTTP 400" not in staff_client(other_owner).get("/portal/activity").content.decode()


# --- the rule's failure reasons --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_failure_reasons_panel_groups_the_rules_recent_failures_by_kind(tenant, owner, event_rule):
    import datetime as dt

    from django.utils import timezone

    # given
    now = timezone.now()
    other_rule = make_event_rule(tenant, owner, name="Other")
    refused = [
        make_execution(
            event_rule,
            "failed",
            failure_kind="receiver_refused",
            error_message="webhook delivery failed: delivery 1: HTTP 404",
            triggered_at=now - dt.timedelta(hours=hours),
        )
        for hours in (1, 5, 9)
    ]
    make_execution(event_rule, "blocked", failure_kind="cap_reached", error_message="loop protection: deep")
    make_execution(event_rule, "failed", failure_kind="timed_out", triggered_at=now - dt.timedelta(days=40))
    make_execution(event_rule, "retrying", failure_kind="receiver_down")  # not ended: not a reason yet
    make_execution(event_rule, "succeeded")
    make_execution(other_rule, "failed", failure_kind="receiver_refused")

    # when
    reasons = rule_failure_reasons(event_rule, now)

    # then: the last 30 days, most frequent first, the latest as the example
    assert [(r.kind, r.count) for r in reasons] == [("receiver_refused", 3), ("cap_reached", 1)]
    assert reasons[0].example.pk == refused[0].pk and reasons[0].last_seen == refused[0].triggered_at
    assert reasons[0].explanation.cause == "The webhook endpoint answered 404 Not Found"
    page = staff_client(owner).get(f"/portal/automations/{event_rule.pk}").content.decode()
    panel = page.split("data-failure-reasons", 1)[1].split("</table>", 1)[0]
    assert 'data-failure-reason="receiver_refused"' in panel and "<td data-count>3</td>" in panel
    assert f"Execution #{refused[0].pk}" in panel and 'data-failure-reason="timed_out"' not in panel


@pytest.mark.django_db
def test_a_rule_without_failures_says_so(tenant, owner, event_rule):
    page = staff_client(owner).get(f"/portal/automations/{event_rule.pk}").content.decode()
    assert "data-no-failures" in page


# --- success rates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "health"),
    [(None, ""), (1.0, "healthy"), (0.95, "healthy"), (0.9499, "degraded"), (0.8, "degraded"), (0.79, "poor")],
)
def test_success_rate_health_has_documented_levels(rate, health):
    assert success_rate_health(rate) == health


@pytest.mark.django_db
@pytest.mark.parametrize(("succeeded", "colour"), [(20, "emerald"), (9, "gold"), (3, "crimson")])
def test_a_success_rate_is_green_only_when_healthy(tenant, owner, event_rule, succeeded, colour):
    from automations.models import AutomationRule

    for _ in range(succeeded):
        make_execution(event_rule, "succeeded")
    make_execution(event_rule, "failed")
    AutomationRule.objects.filter(pk=event_rule.pk).update(
        execution_count=succeeded + 1, success_count=succeeded, failure_count=1
    )
    client = staff_client(owner)

    details = client.get(f"/portal/automations/{event_rule.pk}").content.decode()
    listing = client.get("/portal/automations").content.decode()

    assert f'<div class="card stat-card {colour}"><div class="stat-label">Success Rate' in details
    assert f'<div class="num {colour}" data-field="success-rate">' in listing
