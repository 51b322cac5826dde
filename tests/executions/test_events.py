"""Events in: validation, idempotency, the outbox dispatch on commit, and the worker's event listener."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from executions import task_names
from executions.dispatch import broker_marked_down, publish, publisher, reset_broker_state
from executions.models import AutomationExecution, Event
from executions.services import emit_event, emit_events
from executions.worker import AutomationWorker
from tests.overrides import override_automations


@pytest.mark.django_db
def test_an_event_is_stored_and_matching_is_queued_only_on_commit(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = emit_event(
            tenant.pk,
            "product_added",
            {"product_id": "prod_1"},
            source="store",
            customer_id=42,
            occurred_at="2026-11-26T10:00:00Z",
        )

    # one publish of its matching (and the metrics' count), both waiting for the commit
    published = [cb.args for cb in callbacks if getattr(cb, "args", None) and cb.args[0] == task_names.MATCH_EVENTS]
    assert published == [(task_names.MATCH_EVENTS, [result.id])]
    event = Event.objects.get(pk=result.id)
    assert (event.event_type, event.source, event.customer_id) == ("product_added", "store", "42")
    assert event.payload == {"product_id": "prod_1"}
    assert event.occurred_at.isoformat() == "2026-11-26T10:00:00+00:00"
    assert event.dispatched_at is None  # not matched until the task runs
    assert result.duplicate is False and result.idempotency_key.startswith("evt_")


@pytest.mark.django_db
def test_a_repeated_key_returns_the_original_and_creates_nothing(tenant, django_capture_on_commit_callbacks):
    first = emit_event(tenant.pk, "product_added", {"n": 1}, idempotency_key="shop-1:prod_1:created")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second = emit_event(tenant.pk, "product_added", {"n": 2}, idempotency_key="shop-1:prod_1:created")

    assert second.id == first.id and second.duplicate is True
    assert callbacks == []
    assert Event.objects.count() == 1 and Event.objects.get().payload == {"n": 1}


@pytest.mark.django_db
def test_the_same_key_in_two_tenants_is_two_events(tenant, other_tenant):
    one = emit_event(tenant.pk, "product_added", {}, idempotency_key="k")
    two = emit_event(other_tenant.pk, "product_added", {}, idempotency_key="k")
    assert one.id != two.id and not two.duplicate


@pytest.mark.django_db
def test_a_list_across_tenants_answers_each_taken_key_with_its_own_tenants_event(tenant, other_tenant):
    stored = emit_event(tenant.pk, "product_added", {}, idempotency_key="k")
    items = [
        {"tenant_id": tenant.pk, "event_type": "product_added", "idempotency_key": "k"},
        {"tenant_id": other_tenant.pk, "event_type": "product_added", "idempotency_key": "k"},
        {"tenant_id": other_tenant.pk, "event_type": "product_added", "idempotency_key": "k"},
    ]

    first, second, repeated = emit_events(items)

    assert (first.id, first.duplicate) == (stored.id, True)
    assert not second.duplicate and second.id != stored.id
    assert (repeated.id, repeated.duplicate) == (second.id, True)
    assert Event.objects.get(pk=second.id).tenant_id == other_tenant.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_emits_with_one_key_store_one_event(tenant):
    from tests.executions.workers import race

    results = race(*[lambda: emit_event(tenant.pk, "product_added", {}, idempotency_key="race")] * 4)

    assert len(results) == 4
    assert len({result.id for result in results}) == 1
    assert sorted(result.duplicate for result in results) == [False, True, True, True]
    assert Event.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tenant_id": ""}, "tenant_id"),
        ({"tenant_id": "tenant_nope"}, "tenant_id"),
        ({"event_type": ""}, "event_type"),
        ({"event_type": "product added!"}, "event_type"),
        ({"payload": ["not", "an", "object"]}, "payload"),
        ({"payload": {"blob": "x" * 70_000}}, "payload"),
        ({"source": "a store"}, "source"),
        ({"idempotency_key": "k" * 201}, "idempotency_key"),
        ({"idempotency_key": "   "}, "idempotency_key"),
        ({"customer_id": ["c"]}, "customer_id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-11-26T10:00:00"}, "occurred_at"),  # no time zone
        ({"causation_depth": -1}, "causation_depth"),
        ({"causation_depth": True}, "causation_depth"),
        ({"caused_by_execution_id": 999_999}, "caused_by_execution_id"),
    ],
)
def test_bad_input_is_refused_naming_the_field(tenant, changes, field):
    arguments = {"tenant_id": tenant.pk, "event_type": "product_added", "payload": {}, **changes}
    with pytest.raises(ValidationError) as error:
        emit_event(**arguments)
    assert field in error.value.message_dict
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_a_list_is_stored_all_or_nothing(tenant):
    good = {"tenant_id": tenant.pk, "event_type": "product_added", "payload": {}}
    with pytest.raises(ValidationError) as error:
        emit_events([good, {**good, "event_type": ""}, {**good, "colour": "red"}])
    assert set(error.value.message_dict) == {"[1].event_type", "[2].colour"}
    assert Event.objects.count() == 0

    results = emit_events([good, {**good, "idempotency_key": "a"}, {**good, "idempotency_key": "a"}])
    assert [r.duplicate for r in results] == [False, False, True]
    assert Event.objects.count() == 2


@pytest.mark.django_db
def test_a_caller_limited_to_some_tenants_cannot_reach_others(tenant, other_tenant):
    with pytest.raises(ValidationError) as error:
        emit_events([{"tenant_id": other_tenant.pk, "event_type": "product_added"}], allowed_tenant_ids={tenant.pk})
    assert "tenant_other" in error.value.message_dict["[0].tenant_id"][0]


@pytest.mark.django_db
def test_a_rolled_back_transaction_dispatches_nothing(tenant, event_rule, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        emit_event(tenant.pk, "product_added", {}, source="store")
        raise RuntimeError("the request failed")
    assert callbacks == []
    assert Event.objects.count() == 0 and AutomationExecution.objects.count() == 0


# --- publishing while the broker is down ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_emit_answers_while_the_broker_is_down_and_leaves_the_event_to_the_sweeper(tenant, celery_app_on_broker):
    # given a broker URL where nothing listens
    with celery_app_on_broker("redis://127.0.0.1:6399/0"):
        reset_broker_state()
        results: list = []

        def ingest() -> None:
            from django.db import connection

            try:
                results.append(
                    emit_events(
                        [{"tenant_id": tenant.pk, "event_type": "product_added"}] * 1
                        + [
                            {"tenant_id": tenant.pk, "event_type": "product_added", "idempotency_key": f"k{i}"}
                            for i in range(20)
                        ]
                    )
                )
            finally:
                connection.close()

        # when (a thread, so a hang fails the test instead of freezing it)
        thread = threading.Thread(target=ingest, daemon=True)
        thread.start()
        thread.join(timeout=60)

        # then
        assert not thread.is_alive(), "emit_events hung on the broker"
        assert len(results[0]) == 21
        assert publisher.wait_idle(30)  # the background publisher tried, failed fast, and gave up
        assert broker_marked_down()  # later publishes skip the broker for a few seconds
        assert publish(task_names.MATCH_EVENT, results[0][0].id) is False
        assert Event.objects.filter(dispatched_at__isnull=True).count() == 21
    reset_broker_state()


# --- AutomationWorker().event_listener ------------------------------------------------------------


@pytest.mark.django_db
def test_the_event_listener_takes_the_tenant_from_the_payload_first(tenant, other_tenant):
    worker = AutomationWorker(tenant_id=other_tenant.pk)
    result = worker.event_listener.emit_event("product_added", {"product_id": "p", "tenant_id": tenant.pk})
    assert Event.objects.get(pk=result.id).tenant_id == tenant.pk


@pytest.mark.django_db
def test_the_event_listener_falls_back_to_the_worker_then_the_setting(tenant, other_tenant):
    by_worker = AutomationWorker(tenant_id=other_tenant.pk).event_listener.emit_event("product_added", {})
    with override_automations(DEFAULT_TENANT=tenant.pk):
        by_setting = AutomationWorker().event_listener.emit_event(
            "product_added", {"product_id": "p"}, source="store", idempotency_key="spec-example"
        )
    assert Event.objects.get(pk=by_worker.id).tenant_id == other_tenant.pk
    event = Event.objects.get(pk=by_setting.id)
    assert (event.tenant_id, event.source, event.idempotency_key) == (tenant.pk, "store", "spec-example")


@pytest.mark.django_db
@override_automations(DEFAULT_TENANT=None)
def test_the_event_listener_without_any_tenant_says_how_to_name_one(tenant):
    with pytest.raises(ValidationError) as error:
        AutomationWorker().event_listener.emit_event("product_added", {"product_id": "p"})
    assert "AUTOMATIONS['DEFAULT_TENANT']" in error.value.message_dict["tenant_id"][0]
    assert Event.objects.count() == 0


def test_the_worker_consumes_the_three_queues():
    argv = AutomationWorker(concurrency=2).worker_argv()
    assert argv[:3] == ["worker", "-Q", "events,executions,actions,health"]
    assert "--concurrency" in argv


@pytest.mark.django_db
def test_a_list_checks_each_tenant_once_and_still_refuses_a_missing_one(tenant, other_tenant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    event = {"tenant_id": tenant.pk, "event_type": "product_added", "payload": {}}
    with CaptureQueriesContext(connection) as queries:
        emit_events([event] * 5 + [{**event, "tenant_id": other_tenant.pk}] * 5)
    tenant_reads = [q["sql"] for q in queries.captured_queries if 'FROM "tenants"' in q["sql"]]
    quota_reads = [sql for sql in tenant_reads if "events_per_minute_quota" in sql]
    assert len(tenant_reads) - len(quota_reads) == 2
    assert len(quota_reads) == 1  # the events quota reads every tenant's limit in one query
    assert Event.objects.count() == 10

    with pytest.raises(ValidationError) as error:
        emit_events([event, {**event, "tenant_id": "no_such_tenant"}, event])
    assert set(error.value.message_dict) == {"[1].tenant_id"}
    assert Event.objects.count() == 10
