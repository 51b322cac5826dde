"""Fairness between tenants (docs/pipeline.md, "Fairness between tenants"): matching shares each batch
between the tenants with events waiting, round-robin, each tenant's oldest first, so one tenant's backlog
never holds another's events back. On SQLite and PostgreSQL, and on a real worker with a Redis broker."""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest
from django.utils import timezone

from executions import task_names
from executions.choices import ExecutionStatus
from executions.delivery.services import endpoint_create
from executions.dispatch import publish
from executions.models import AutomationExecution, Event, MetricSample
from executions.pipeline import match, match_backlog, match_events
from executions.services import emit_events
from tests.executions.conftest import make_event_rule
from tests.executions.workers import Broker, app_on_broker, wait_for
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


def product_events(tenant, count: int) -> list[dict]:
    return [{"tenant_id": tenant.pk, "event_type": "product_added", "source": "store"} for _ in range(count)]


@pytest.fixture
def batch_of(settings):
    def set_size(size: int) -> None:
        settings.AUTOMATIONS = {**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZE": size}

    return set_size


@pytest.fixture
def shops(db, monkeypatch):
    """Tenants a (the flood), b and c, each with an active store and a rule on product_added."""
    monkeypatch.setattr(match, "_scan_cursor", "")
    tenants = [make_tenant(f"tenant_{name}", name=f"Shop {name}") for name in "abc"]
    for tenant in tenants:
        MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
        make_event_rule(tenant)
    return tenants


def waiting(tenant, count: int, capture) -> list[int]:
    """``count`` events of ``tenant`` stored (the outbox), their messages not delivered."""
    with capture(execute=False):
        return [result.id for result in emit_events(product_events(tenant, count))]


def tenants_of(executions) -> list[str]:
    return [execution.tenant_id for execution in executions]


def test_a_backlogged_tenants_message_takes_the_other_tenants_waiting_event_in_its_batch(
    shops, batch_of, django_capture_on_commit_callbacks
):
    # given: tenant a has 10 events waiting, then tenant b posts one
    a, b, _ = shops
    batch_of(4)
    a_ids = waiting(a, 10, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 1, django_capture_on_commit_callbacks)

    # when: a's first message (carrying four of a's events) is matched
    created = match_events(a_ids[:4])

    # then: the batch is shared: a's own events first within a's share, b's event in the same batch,
    # interleaved so b's execution is not last
    assert [execution.event_id for execution in created] == [a_ids[0], b_ids[0], a_ids[1], a_ids[2]]
    assert Event.objects.filter(dispatched_at__isnull=True, tenant=b).count() == 0
    assert Event.objects.filter(dispatched_at__isnull=True, tenant=a).count() == 7


def test_the_quiet_tenants_executions_run_before_the_backlogged_tenants_share(
    shops, batch_of, django_capture_on_commit_callbacks, monkeypatch
):
    # given: a's backlog and b's one event, taken in one batch
    a, b, _ = shops
    batch_of(4)
    a_ids = waiting(a, 10, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 1, django_capture_on_commit_callbacks)
    groups = []
    run_loaded = match.run_loaded
    monkeypatch.setattr(match, "run_loaded", lambda executions: groups.append(executions) or run_loaded(executions))

    # when
    created = match_events(a_ids[:4])

    # then: b's execution runs as a batch of its own, first; a's share after it
    assert [[e.event_id for e in group] for group in groups] == [[b_ids[0]], [a_ids[0], a_ids[1], a_ids[2]]]
    assert {e.status for e in AutomationExecution.objects.filter(pk__in=[e.pk for e in created])} == {
        ExecutionStatus.SUCCEEDED
    }


def test_a_batch_of_tenants_none_backlogged_runs_as_one(
    shops, batch_of, django_capture_on_commit_callbacks, monkeypatch
):
    a, b, _ = shops
    batch_of(4)
    a_ids = waiting(a, 2, django_capture_on_commit_callbacks)
    waiting(b, 1, django_capture_on_commit_callbacks)
    groups = []
    monkeypatch.setattr(match, "run_loaded", groups.append)

    match_events(a_ids[:1])

    assert [len(group) for group in groups] == [3]


def test_a_batch_of_two_backlogged_tenants_runs_as_one(
    shops, batch_of, django_capture_on_commit_callbacks, monkeypatch
):
    a, b, _ = shops
    batch_of(5)
    a_ids = waiting(a, 10, django_capture_on_commit_callbacks)
    waiting(b, 10, django_capture_on_commit_callbacks)
    groups = []
    monkeypatch.setattr(match, "run_loaded", groups.append)

    match_events(a_ids[:5])

    # a: 2 + 1, b: 2 (the batch was full before b's second round): both still have events waiting
    assert [Counter(e.tenant_id for e in group) for group in groups] == [{a.pk: 3, b.pk: 2}]


def test_a_quiet_tenants_message_takes_its_event_first_and_a_share_of_the_backlog(
    shops, batch_of, django_capture_on_commit_callbacks
):
    a, b, _ = shops
    batch_of(4)
    a_ids = waiting(a, 10, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 1, django_capture_on_commit_callbacks)

    created = match_events(b_ids)

    # b's event leads; the room left goes to a's oldest
    assert [execution.event_id for execution in created] == [b_ids[0], *a_ids[:3]]


def test_every_waiting_tenant_gets_a_share_and_the_room_left_goes_round_robin(
    shops, batch_of, django_capture_on_commit_callbacks
):
    a, b, c = shops
    batch_of(5)
    a_ids = waiting(a, 10, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 10, django_capture_on_commit_callbacks)
    c_ids = waiting(c, 1, django_capture_on_commit_callbacks)

    created = match_events(a_ids[:5])

    # one each, then the room left one each again (c has no more)
    assert Counter(tenants_of(created)) == {a.pk: 2, b.pk: 2, c.pk: 1}
    assert [execution.event_id for execution in created] == [a_ids[0], b_ids[0], c_ids[0], a_ids[1], b_ids[1]]
    # then the next batch goes on with each tenant's oldest
    created = match_events(a_ids[5:10])
    assert [execution.event_id for execution in created] == [a_ids[5], b_ids[2], a_ids[6], b_ids[3], a_ids[7]]


def test_a_lone_tenant_still_fills_the_whole_batch(shops, batch_of, django_capture_on_commit_callbacks):
    a, _, _ = shops
    batch_of(4)
    a_ids = waiting(a, 6, django_capture_on_commit_callbacks)

    created = match_events([a_ids[5]])

    # its own event first, then its oldest: fairness costs a lone tenant nothing
    assert [execution.event_id for execution in created] == [a_ids[5], *a_ids[:3]]


def test_more_waiting_tenants_than_a_batch_holds_are_served_in_turn(
    db, shops, batch_of, django_capture_on_commit_callbacks
):
    # given: six tenants with an event waiting each, batches of four
    batch_of(4)
    tenants = [*shops, *(make_tenant(f"tenant_{name}", name=name) for name in "def")]
    for tenant in tenants[3:]:
        make_event_rule(tenant)
    for tenant in tenants:
        waiting(tenant, 1, django_capture_on_commit_callbacks)
    names = [tenant.pk for tenant in tenants]

    # the scan goes on where the last one stopped, and wraps around
    assert match.waiting_tenants(4, exclude=[]) == names[:4]
    assert match.waiting_tenants(4, exclude=[]) == [*names[4:], *names[:2]]
    assert match.waiting_tenants(4, exclude=[names[2]]) == [names[3], names[4], names[5], names[0]]

    # when: two wake-ups carrying no events of their own (a re-sent message finds its events taken)
    first = match_events([])
    second = match_events([])

    # then: every tenant's event was taken by one of the two, none twice
    assert sorted(tenants_of(first) + tenants_of(second)) == sorted(names)
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


def test_a_taken_event_is_never_taken_again(shops, batch_of, django_capture_on_commit_callbacks):
    a, b, _ = shops
    batch_of(3)
    a_ids = waiting(a, 4, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 2, django_capture_on_commit_callbacks)

    first = match_events(a_ids[:3])
    second = match_events(a_ids[:3])  # the same message redelivered
    third = match_events(b_ids)

    every = [execution.event_id for execution in [*first, *second, *third]]
    assert sorted(every) == sorted(a_ids + b_ids)
    assert AutomationExecution.objects.count() == 6


# --- the backlog lane ------------------------------------------------------------------------------------


@pytest.fixture
def backlog_lane(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "BACKLOG_LANE": True}


def backlog_wakeups(callbacks) -> list[list[str]]:
    """The tenant lists of the backlog lane's wake-ups queued on commit."""
    return [
        callback.args[1]
        for callback in callbacks
        if isinstance(callback, partial) and callback.args[:1] == (task_names.MATCH_BACKLOG,)
    ]


def test_with_the_backlog_lane_a_backlogged_tenants_events_are_left_to_it_and_the_others_run_at_once(
    shops, batch_of, backlog_lane, django_capture_on_commit_callbacks
):
    # given: a has ten events waiting, b one; batches of four
    a, b, _ = shops
    batch_of(4)
    a_ids = waiting(a, 10, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 1, django_capture_on_commit_callbacks)

    # when: a's message is matched on the events queue
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = match_events(a_ids[:4])

    # then: only b's event ran here; a's wait for the backlog lane, which this message woke
    assert [execution.event_id for execution in created] == b_ids
    assert backlog_wakeups(callbacks) == [[a.pk]]
    assert Event.objects.filter(tenant=a, dispatched_at__isnull=True).count() == 10

    # and the backlog lane takes a full batch of a's oldest, no one else's, and wakes itself again while
    # a full batch may leave more
    c = shops[2]
    c_ids = waiting(c, 1, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lane = match_backlog([a.pk])
    assert [execution.event_id for execution in lane] == a_ids[:4]
    assert Event.objects.filter(pk__in=c_ids, dispatched_at__isnull=True).count() == 1
    assert backlog_wakeups(callbacks) == [[a.pk]]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lane = match_backlog([a.pk])  # 4 more, then the last 2 (a part batch: no wake-up after it)
        lane += match_backlog([a.pk])
    assert [execution.event_id for execution in lane] == a_ids[4:]
    assert backlog_wakeups(callbacks) == [[a.pk]]


def test_with_the_backlog_lane_a_tenant_with_no_more_waiting_than_a_batch_runs_at_once(
    shops, batch_of, backlog_lane, django_capture_on_commit_callbacks
):
    a, b, _ = shops
    batch_of(4)
    a_ids = waiting(a, 3, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 1, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = match_events(a_ids[:1])

    assert sorted(execution.event_id for execution in created) == sorted(a_ids + b_ids)
    assert backlog_wakeups(callbacks) == []


def test_a_backlog_that_waited_past_the_fallback_is_matched_on_the_events_queue(
    shops, batch_of, backlog_lane, django_capture_on_commit_callbacks
):
    # the backlog lane is missing or stuck: a's oldest event has waited ten minutes
    a, _, _ = shops
    batch_of(4)
    a_ids = waiting(a, 10, django_capture_on_commit_callbacks)
    Event.objects.filter(pk=a_ids[0]).update(received_at=timezone.now() - match.BACKLOG_LANE_FALLBACK)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = match_events(a_ids[:4])

    assert [execution.event_id for execution in created] == a_ids[:4]
    assert backlog_wakeups(callbacks) == []


def test_a_message_that_only_saw_anothers_backlog_wakes_no_backlog_lane(
    shops, batch_of, backlog_lane, django_capture_on_commit_callbacks
):
    # a's backlog has messages of its own: b's message leaves a's share alone and wakes nothing for it
    a, b, _ = shops
    batch_of(4)
    waiting(a, 10, django_capture_on_commit_callbacks)
    b_ids = waiting(b, 1, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = match_events(b_ids)

    assert [execution.event_id for execution in created] == b_ids
    assert backlog_wakeups(callbacks) == []
    assert Event.objects.filter(tenant=a, dispatched_at__isnull=True).count() == 10


# --- on a real worker ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_on_a_worker_a_tenants_event_is_matched_in_the_first_batch_behind_anothers_backlog(
    tmp_path, sink, settings, monkeypatch
):
    # given: tenant a's 200 events wait in the outbox with their 40 messages queued in Redis first, then
    # tenant b's one event with its message at the tail of the queue; both tenants deliver to the sink
    monkeypatch.setattr(match, "_scan_cursor", "")
    size = 5
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZE": size, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    a, b = make_tenant("tenant_flood", name="Flood"), make_tenant("tenant_quiet", name="Quiet")
    rules = {}
    for tenant in (a, b):
        MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
        rules[tenant.pk] = make_event_rule(tenant)
        endpoint_create(tenant, sink.url(f"/{tenant.pk}"))
    now = timezone.now()
    backlog = Event.objects.bulk_create(
        Event(tenant=a, event_type="product_added", source="store", idempotency_key=f"a{n}", received_at=now)
        for n in range(200)
    )
    quiet = Event.objects.create(tenant=b, event_type="product_added", source="store", idempotency_key="b0")
    a_ids = sorted(event.pk for event in backlog)
    broker = Broker("redis", tmp_path)
    broker.purge()
    env = {"AUTOMATIONS_PIPELINE_BATCH_SIZE": str(size), "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
    worker = broker.worker(env)
    try:
        with app_on_broker(broker.url, broker.transport_options):
            for start in range(0, len(a_ids), size):
                assert publish(task_names.MATCH_EVENTS, a_ids[start : start + size])
            assert publish(task_names.MATCH_EVENTS, [quiet.pk])

            # when: one worker process works through the queue
            worker.start(concurrency=1)
            worker.wait_ready()
            done = wait_for(
                lambda: AutomationExecution.objects.filter(event_id=quiet.pk, status=ExecutionStatus.SUCCEEDED).first(),
                timeout=90,
                message="tenant b's execution succeeded",
            )
            wait_for(
                lambda: AutomationExecution.objects.filter(status=ExecutionStatus.SUCCEEDED).count() == 201,
                timeout=180,
                message="every execution succeeded",
            )
    finally:
        worker.stop()
        broker.purge()

    # then: b's event was matched in the first batch (a's own share and b's event), not after a's
    # backlog: the first batch's executions are the first ones logged
    first_batch = list(AutomationExecution.objects.order_by("id").values_list("event_id", flat=True)[:size])
    assert quiet.pk in first_batch, worker.log()
    assert set(first_batch) - {quiet.pk} <= set(a_ids[:size])
    # b's webhook went to b's endpoint; every event ran exactly once and was delivered
    assert done.automation_rule_id == rules[b.pk].pk
    assert AutomationExecution.objects.count() == 201
    paths = Counter(request.path for request in sink.requests)
    assert paths == {f"/{b.pk}": 1, f"/{a.pk}": 200}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_on_a_worker_and_a_backlog_lane_worker_every_event_runs_once(tmp_path, sink, settings, monkeypatch):
    # given: the backlog lane on; tenant a's 100 events with their 20 messages queued, then b's one
    monkeypatch.setattr(match, "_scan_cursor", "")
    size = 5
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZE": size, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    a, b = make_tenant("tenant_flood", name="Flood"), make_tenant("tenant_quiet", name="Quiet")
    for tenant in (a, b):
        MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
        make_event_rule(tenant)
        endpoint_create(tenant, sink.url(f"/{tenant.pk}"))
    now = timezone.now()
    backlog = Event.objects.bulk_create(
        Event(tenant=a, event_type="product_added", source="store", idempotency_key=f"a{n}", received_at=now)
        for n in range(100)
    )
    quiet = Event.objects.create(tenant=b, event_type="product_added", source="store", idempotency_key="b0")
    a_ids = sorted(event.pk for event in backlog)
    broker = Broker("redis", tmp_path)
    broker.purge()
    env = {
        "AUTOMATIONS_PIPELINE_BATCH_SIZE": str(size),
        "AUTOMATIONS_BACKLOG_LANE": "true",
        "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    }
    worker = broker.worker(env)
    lane = broker.worker(env, name="backlog")
    try:
        with app_on_broker(broker.url, broker.transport_options):
            for start in range(0, len(a_ids), size):
                assert publish(task_names.MATCH_EVENTS, a_ids[start : start + size])
            assert publish(task_names.MATCH_EVENTS, [quiet.pk])

            # when: a worker of the four queues and a worker of the backlog queue work through them
            worker.start(concurrency=1)
            lane.start(concurrency=1, queues=("backlog",))
            worker.wait_ready()
            lane.wait_ready()
            wait_for(
                lambda: AutomationExecution.objects.filter(status=ExecutionStatus.SUCCEEDED).count() == 101,
                timeout=180,
                message="every execution succeeded",
            )
    finally:
        worker.stop()
        lane.stop()
        broker.purge()

    # then: each event ran once and was delivered once; the backlog lane matched a's backlog
    assert AutomationExecution.objects.count() == 101
    assert Counter(request.path for request in sink.requests) == {f"/{b.pk}": 1, f"/{a.pk}": 100}
    assert "Task executions.match_backlog[" in lane.log(), lane.log()
    assert "Task executions.match_backlog[" not in worker.log(), worker.log()
