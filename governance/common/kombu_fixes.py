"""Guards around kombu transport bugs that stop a worker for good: Redis going away, and the embedded
filesystem broker's partly written message files; and a Redis client reused instead of rebuilt for every
command kombu sends (``reuse_redis_command_clients``).

TRICKY: when Redis drops while a worker is connected, Celery closes the broker connection and kombu's
``Channel.close`` tries to restore unacknowledged messages through a connection that was already
released, raising ``AttributeError: 'NoneType' object has no attribute 'hostname'``. Celery treats that
as unrecoverable and the worker exits instead of reconnecting (the regression family in
RELIABILITY-NOTES 1.3). Skipping the restore is safe here: the messages stay in Redis's unacked set and
kombu restores them after the visibility timeout, and our sweepers re-queue the work from the database
long before that.

The same released channel breaks a late acknowledgement: a task received before Redis dropped and
finished after the worker reconnected acks through its old channel, kombu's ``QoS.ack`` builds a client
from the released connection, the same ``AttributeError`` escapes the event loop and the worker stops
("Unrecoverable error"). Such an ack (or reject) is skipped and logged: the message stays in Redis's
unacked set, comes back after the visibility timeout, and the guarded claims make its second run a no-op.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)


def guard_redis_released_channels() -> None:
    """Make kombu's Redis ``Channel.close`` and ``QoS.ack``/``reject`` survive a connection already gone."""
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
    kombu_redis.Channel.close = close  # type: ignore[method-assign]  # the patch is the point

    original_ack, original_reject = kombu_redis.QoS.ack, kombu_redis.QoS.reject

    def released(qos: kombu_redis.QoS, delivery_tag: str, what: str) -> bool:
        if getattr(qos.channel.connection, "client", None) is not None:
            return False
        logger.warning(
            "%s of message %s skipped: its Redis channel was released when the connection dropped; "
            "Redis gives the message back after the visibility timeout",
            what,
            delivery_tag,
        )
        return True

    def ack(self: kombu_redis.QoS, delivery_tag: str) -> None:
        if not released(self, delivery_tag, "ack"):
            original_ack(self, delivery_tag)

    def reject(self: kombu_redis.QoS, delivery_tag: str, requeue: bool = False) -> None:
        if not released(self, delivery_tag, "reject"):
            original_reject(self, delivery_tag, requeue=requeue)

    kombu_redis.QoS.ack = ack  # type: ignore[method-assign]  # the patch is the point
    kombu_redis.QoS.reject = reject  # type: ignore[method-assign]


def atomic_filesystem_messages() -> None:
    """Make kombu's filesystem transport (the embedded broker) write each message atomically.

    TRICKY: kombu's ``Channel._put`` creates the message file, then writes it. A worker polling the
    folder in between moves and reads an empty or partial file, ``json.loads`` raises, and Celery
    calls that unrecoverable: the worker exited (issue 14, "JSONDecodeError('Expecting value')").
    Here the message is written under a name the reader ignores (``….msg.writing``) and renamed into
    place with ``os.replace``, which is atomic within a folder, so a reader sees a whole file or none.
    A file that still cannot be decoded (left by another writer, or a disk fault) is logged and
    dropped instead of stopping the worker; the database sweepers re-queue the work it stood for.
    """
    import os
    import uuid
    from time import monotonic

    from kombu.exceptions import ChannelError
    from kombu.transport import filesystem
    from kombu.utils.encoding import str_to_bytes
    from kombu.utils.json import dumps

    if getattr(filesystem.Channel._put, "is_atomic", False):
        return
    original_get = filesystem.Channel._get

    def _put(self: filesystem.Channel, queue: str, payload: object, **kwargs: object) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".writing"
        try:
            with open(partial, "wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self: filesystem.Channel, queue: str) -> dict[str, Any]:
        while True:
            try:
                return original_get(self, queue)
            except ValueError as error:  # a file that is not a whole JSON message: skip it, keep serving
                logger.warning("filesystem broker: skipped an unreadable message in queue %s: %s", queue, error)

    _put.is_atomic = True  # type: ignore[attr-defined]
    filesystem.Channel._put = _put  # type: ignore[method-assign]  # the patch is the point
    filesystem.Channel._get = _get  # type: ignore[method-assign]


def reuse_redis_command_clients() -> None:
    """Make kombu's Redis channel reuse one client for the commands it sends outside its event loop.

    TRICKY: kombu's ``Channel.conn_or_acquire`` builds a new ``redis.Redis`` for every such command, each
    publish's LPUSH included, and redis-py 8 fills a dict of about 170 response callbacks in every new
    client: a third of a publish's CPU (found by py-spy in the web processes, which send one wake-up per
    event; 1.02-1.04 -> 0.68-0.76 ms per publish in process; docs/operations.md, "A publish without a new
    Redis client"). Here the channel keeps
    the client it built for its current connection pool and builds another only when kombu replaced the
    pool (after a fork, or on reconnecting). A client is only a handle on the pool: each command still
    takes a connection of its own from the pool, so sharing one between callers is what the pool is for.
    """
    try:
        from kombu.transport import redis as kombu_redis
    except ImportError:  # the redis client is not installed: nothing to reuse
        return
    if getattr(kombu_redis.Channel.conn_or_acquire, "reuses_clients", False):
        return

    @contextlib.contextmanager
    def conn_or_acquire(self: kombu_redis.Channel, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        kept = self.__dict__.get("_command_client")
        if kept is None or kept[0] is not pool:
            kept = self.__dict__["_command_client"] = (pool, self._create_client())  # type: ignore[attr-defined]
        yield kept[1]

    conn_or_acquire.reuses_clients = True  # type: ignore[attr-defined]
    kombu_redis.Channel.conn_or_acquire = conn_or_acquire  # type: ignore[method-assign]  # the patch is the point
