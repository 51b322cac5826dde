"""The embedded broker (kombu's filesystem transport): a message file is never seen half written, and a
worker survives an unreadable one (issue 14: the worker died of JSONDecodeError under make run)."""

from __future__ import annotations

import threading
import time
from queue import Empty

import pytest
from kombu import Connection
from kombu.utils.json import register_type

from tests.executions.workers import Broker, app_on_broker, filesystem_transport_options, wait_for

SERIALIZE_SECONDS = 0.5


class SlowToSerialize:
    """A payload value whose JSON encoding takes a while: the window in which kombu's own ``_put`` had
    created the message file but not yet written it."""


register_type(SlowToSerialize, None, lambda value: (time.sleep(SERIALIZE_SECONDS), "slow")[1])


def test_a_reader_never_sees_a_partly_written_message(tmp_path):
    # given a writer in the middle of putting a message (its payload still being serialised)
    options = filesystem_transport_options(tmp_path / "broker")
    with (
        Connection("filesystem://", transport_options=options) as writer_connection,
        Connection("filesystem://", transport_options=options) as reader_connection,
    ):
        writer, reader = writer_connection.default_channel, reader_connection.default_channel
        thread = threading.Thread(target=writer._put, args=("race", {"value": SlowToSerialize()}))
        thread.start()
        # when a reader polls the folder meanwhile (as a worker does every 50 ms)
        seen = []
        while thread.is_alive():
            try:
                seen.append(reader._get("race"))
            except Empty:
                time.sleep(0.01)
        thread.join()
        # then it saw no message until the whole one was in place, and then exactly that one
        assert seen == []
        assert reader._get("race") == {"value": "slow"}
    assert not list((tmp_path / "broker" / "queue").glob("*.writing"))


@pytest.mark.slow
def test_a_worker_survives_an_unreadable_message_file(tmp_path, transactional_db, tenant, owner):
    from executions.choices import ExecutionStatus
    from executions.models import AutomationExecution, MetricSample
    from executions.services import emit_event
    from tests.executions.conftest import make_event_rule

    broker = Broker("filesystem", tmp_path)
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    make_event_rule(tenant, owner)
    with app_on_broker(broker.url, broker.transport_options):
        worker = broker.worker().start(concurrency=1)
        try:
            worker.wait_ready()
            # given: files in the queue folder that are not whole messages, as a crashed writer leaves
            queue = broker.folder / "queue"
            (queue / "0000000001_empty.events.msg").write_bytes(b"")
            (queue / "0000000002_partial.events.msg").write_bytes(b'{"body": "eyJ')
            # when: an event follows them
            emit_event(tenant.pk, "product_added", {}, source="store")
            # then: the worker skipped them, stayed up and ran the event
            wait_for(
                lambda: AutomationExecution.objects.filter(status=ExecutionStatus.SUCCEEDED).exists(),
                timeout=60,
                message="the worker to run the event after the unreadable files",
            )
            assert worker.process.poll() is None, worker.log()
            assert "skipped an unreadable message" in worker.log()
        finally:
            worker.stop()
