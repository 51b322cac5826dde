"""kombu's Redis channel after its connection was released (governance/common/kombu_fixes.py): closing it, and a late
ack or reject through it, are skipped and logged instead of stopping the worker."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from kombu.transport import redis as kombu_redis

import config.celery  # noqa: F401  (installs the guards)

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it


def qos_of_a_released_channel() -> kombu_redis.QoS:
    qos = kombu_redis.QoS.__new__(kombu_redis.QoS)
    qos.channel = SimpleNamespace(connection=SimpleNamespace(client=None))
    return qos


@pytest.mark.parametrize("settle", [lambda qos: qos.ack("tag-1"), lambda qos: qos.reject("tag-1", requeue=True)])
def test_a_late_ack_or_reject_on_a_released_channel_is_skipped_and_logged(settle, caplog):
    with caplog.at_level(logging.WARNING, logger="governance.common.kombu_fixes"):
        settle(qos_of_a_released_channel())  # before the guard: AttributeError 'NoneType' ... 'hostname'

    assert "message tag-1 skipped" in caplog.text


def test_an_ack_on_a_live_channel_goes_through(monkeypatch):
    acked: list[str] = []
    qos = kombu_redis.QoS.__new__(kombu_redis.QoS)
    qos.channel = SimpleNamespace(connection=SimpleNamespace(client=object()))
    qos._quick_ack = lambda tag: acked.append(f"local {tag}")
    monkeypatch.setattr(
        kombu_redis.QoS, "_remove_from_indices", lambda self, tag: SimpleNamespace(execute=lambda: acked.append(tag))
    )

    qos.ack("tag-2")

    assert acked == ["tag-2", "local tag-2"]  # removed from Redis's unacked index, then locally
