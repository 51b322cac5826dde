"""The background publisher against a real Redis broker: wake-ups of one process are coalesced."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from executions import task_names
from executions.dispatch import BackgroundPublisher, coalesce, publisher
from executions.services import emit_event
from tests.services import require_redis

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], []),
        ([(task_names.MATCH_EVENTS, ([1],))], [(task_names.MATCH_EVENTS, ([1],))]),
        (
            [(task_names.MATCH_EVENTS, ([1],)), (task_names.MATCH_EVENTS, ([2, 3],))],
            [(task_names.MATCH_EVENTS, ([1, 2, 3],))],
        ),
        (
            [
                (task_names.MATCH_EVENTS, ([1],)),
                (task_names.RUN_EXECUTION, (7,)),
                (task_names.RUN_EXECUTIONS, ([5],)),
                (task_names.MATCH_EVENTS, ([2],)),
            ],
            [
                (task_names.RUN_EXECUTION, (7,)),
                (task_names.MATCH_EVENTS, ([1, 2],)),
                (task_names.RUN_EXECUTIONS, ([5],)),
            ],
        ),
    ],
)
def test_coalesce_joins_id_lists_of_batch_tasks_only(messages, expected):
    assert coalesce(messages) == expected


def test_coalesce_cuts_joined_ids_into_batches():
    with override_settings(AUTOMATIONS={**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZE": 2}):
        joined = coalesce([(task_names.MATCH_EVENTS, ([n],)) for n in range(5)])
    assert joined == [
        (task_names.MATCH_EVENTS, ([0, 1],)),
        (task_names.MATCH_EVENTS, ([2, 3],)),
        (task_names.MATCH_EVENTS, ([4],)),
    ]


def broker_messages(broker: redis.Redis, queue_name: str) -> list[tuple[str, list]]:
    """(task name, args) of the messages waiting in ``queue_name``, oldest first; the queue is emptied."""
    raw = broker.lrange(queue_name, 0, -1)
    broker.delete(queue_name)
    messages = [json.loads(item) for item in reversed(raw)]  # kombu pushes to the head
    return [(message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0]) for message in messages]


def test_events_emitted_together_wake_a_worker_with_at_most_two_messages(
    tenant, celery_app_on_broker, django_capture_on_commit_callbacks
):
    url = require_redis()
    broker = redis.Redis.from_url(url)
    broker.delete("events")
    # a wide window, so the three emits below fall in it however busy the machine is
    coalescing = override_settings(AUTOMATIONS={**settings.AUTOMATIONS, "PUBLISH_COALESCE_SECONDS": 2.0})
    with celery_app_on_broker(url), coalescing:
        # when three events are emitted one by one (three wake-ups submitted)
        ids = []
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                ids.append(emit_event(tenant.pk, "product_added", {"n": n}).id)
        assert publisher.wait_idle(30)
    # then the broker holds the three ids, in order, in at most two matching messages: a wake-up goes at
    # once after a quiet spell, and those within the window after a send are gathered into one (where
    # the window falls depends on what this process published just before)
    messages = broker_messages(broker, "events")
    assert {task for task, _args in messages} == {task_names.MATCH_EVENTS}
    assert len(messages) <= 2
    assert [event_id for _task, args in messages for event_id in args[0]] == ids


def test_a_wake_up_after_a_quiet_spell_goes_without_waiting_for_the_window(tenant, celery_app_on_broker):
    url = require_redis()
    broker = redis.Redis.from_url(url)
    broker.delete("events")
    # given a publisher that has sent nothing yet, and a window of 5 s
    quiet = BackgroundPublisher()
    window = override_settings(AUTOMATIONS={**settings.AUTOMATIONS, "PUBLISH_COALESCE_SECONDS": 5.0})
    with celery_app_on_broker(url), window:
        # when one wake-up is submitted, then it is sent at once (not after the window)
        quiet.submit(task_names.MATCH_EVENTS, [41])
        assert quiet.wait_idle(2.5)
        # and one submitted right after it waits for the window's end, then goes
        quiet.submit(task_names.MATCH_EVENTS, [42])
        assert not quiet.wait_idle(1)
        assert quiet.wait_idle(30)
    assert broker_messages(broker, "events") == [(task_names.MATCH_EVENTS, [[41]]), (task_names.MATCH_EVENTS, [[42]])]
