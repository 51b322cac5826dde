"""kombu's Redis channel reuses one client for the commands it sends outside its event loop (publishes
included) and builds a new one only when its connection pool was replaced (governance/common/kombu_fixes.py),
on a real Redis."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection

import config.celery  # noqa: F401  (installs the patch)
from tests.services import require_redis

pytestmark = pytest.mark.database_free  # no database: the PostgreSQL run of .ci/run skips it


def test_publishes_share_one_client_until_the_pool_is_replaced():
    queue_name = f"test-clients-{uuid.uuid4().hex}"
    with Connection(require_redis()) as connection:
        queue = connection.SimpleQueue(queue_name)
        channel = queue.channel
        try:
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
                assert first is second  # before the patch: a new redis.Redis for every command
            queue.put({"n": 1})
            queue.put({"n": 2})
            with channel.conn_or_acquire() as after_puts:
                assert after_puts is first
            channel._disconnect_pools()  # what kombu does after a fork: the old pool is gone
            queue.put({"n": 3})
            with channel.conn_or_acquire() as renewed:
                assert renewed is not first and renewed.connection_pool is channel.pool

            received = []
            for _ in range(3):
                message = queue.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
            assert received == [1, 2, 3]  # every message went through, before and after the new pool
        finally:
            queue.clear()
            queue.close()
