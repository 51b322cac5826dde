"""The background publisher against a real Redis broker: wake-ups of one process are coalesced."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from executions import task_names
from executions.dispatch import coalesce, publisher
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


def test_events_emitted_together_wake_a_worker_with_one_message(
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
    # then the broker holds one matching message with the three ids
    messages = [json.loads(raw) for raw in broker.lrange("events", 0, -1)]
    broker.delete("events")
    assert [message["headers"]["task"] for message in messages] == [task_names.MATCH_EVENTS]
    args, _kwargs, _embed = json.loads(base64.b64decode(messages[0]["body"]))
    assert args == [ids]
