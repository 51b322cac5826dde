"""A guard around a kombu Redis transport bug that stops a worker for good when Redis goes away.

TRICKY: when Redis drops while a worker is connected, Celery closes the broker connection and kombu's
``Channel.close`` tries to restore unacknowledged messages through a connection that was already
released, raising ``AttributeError: 'NoneType' object has no attribute 'hostname'``. Celery treats that
as unrecoverable and the worker exits instead of reconnecting (the regression family in
RELIABILITY-NOTES 1.3). Skipping the restore is safe here: the messages stay in Redis's unacked set and
kombu restores them after the visibility timeout, and our sweepers re-queue the work from the database
long before that.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def guard_redis_channel_close() -> None:
    """Make kombu's Redis ``Channel.close`` survive a connection that is already gone."""
    try:
        from kombu.transport import redis as kombu_redis
    except ImportError:  # the redis client is not installed: nothing to guard
        return
    original_close = kombu_redis.Channel.close
    if getattr(original_close, "is_guarded", False):
        return

    def close(self: kombu_redis.Channel) -> None:
        try:
            original_close(self)
        except AttributeError as error:
            if getattr(self.connection, "client", None) is not None:
                raise
            logger.warning("Redis channel closed after its connection was released; unacked restore skipped: %s", error)

    close.is_guarded = True  # type: ignore[attr-defined]
    kombu_redis.Channel.close = close
