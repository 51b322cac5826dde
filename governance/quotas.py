"""Per-tenant quotas: events per minute and executions per hour, counted in one shared counter per window.

The one home of the quota counter. Windows are fixed and aligned to the clock (UTC): a minute for events,
an hour for executions. A count is reserved all or nothing: ``counter_reserve`` adds ``amount`` only when
the window's count stays within the limit, so a batch of 500 events either fits or is refused whole,
consuming nothing.

Where the counts live (``counter_backend``):

- **Redis** when the API throttle's cache (``CACHES["throttle"]``: ``THROTTLE_CACHE_URL``, or in production
  the broker's Redis) is Redis: one round trip, a small Lua script (GET, compare, INCRBY and EXPIRE).
- **The database** otherwise (the embedded default, SQLite or PostgreSQL): the ``quota_counters`` table,
  one row per (key, window), made or bumped by one statement (``INSERT … ON CONFLICT DO UPDATE SET count =
  count + k WHERE count + k <= limit``, atomic on both). Rows of past windows are pruned with the history
  (``counters_prune``).

Never a per-process counter: every web and worker process shares the same count. When Redis cannot be
reached the quota is not enforced (logged): a counter outage must not stop ingestion nor hold executions
forever.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone
from redis.exceptions import RedisError

from governance.common.api_errors import TooManyRequests
from governance.common.db_locks import write_transaction
from governance.common.prometheus import count_quota_deferral, count_quota_refusal
from governance.common.redis_clients import redis_client
from governance.common.sql_instances import column_of, placeholders
from governance.models import QuotaCounter, Tenant

logger = logging.getLogger(__name__)

CACHE_ALIAS = "throttle"  # the counters live where the API throttle's do
REDIS_PREFIX = "automations-quota"
EVENTS_WINDOW_SECONDS = 60
EXECUTIONS_WINDOW_SECONDS = 3600
DAY_SECONDS = 86400
HOLD_KIND = "execution_quota"  # governance_decision["hold"]["kind"] of an execution the quota deferred
# Counts of past windows kept in the database this long (the dashboard reads today's refusals).
COUNTERS_KEPT = dt.timedelta(days=2)

# Lua: reserve ARGV[1] in KEYS[1] when the count stays within ARGV[2]; returns the new count, or -1.
RESERVE_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if count + amount > tonumber(ARGV[2]) then return -1 end
count = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return count
"""
# Lua: give back ARGV[1] from KEYS[1] if the window's key still exists (an expired one stays gone).
RELEASE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECRBY', KEYS[1], ARGV[1]) end
return 0
"""
_scripts: dict[tuple[int, str], Any] = {}


@dataclass(frozen=True)
class Window:
    """A fixed window aligned to the clock (UTC): [start, end)."""

    start: dt.datetime
    seconds: int

    @classmethod
    def at(cls, now: dt.datetime, seconds: int) -> Window:
        epoch = math.floor(now.timestamp())
        return cls(dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC), seconds)

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.seconds)

    def seconds_left(self, now: dt.datetime) -> int:
        """Whole seconds until the window ends (at least 1): what Retry-After says."""
        return max(1, math.ceil((self.end - now).total_seconds()))


class QuotaExceeded(TooManyRequests):
    """A tenant's quota refused the request whole; nothing was counted or stored.

    ``retry_after``: seconds until the window that refused it ends.
    """

    def __init__(self, tenant_id: str, quota: str, limit: int, requested: int, retry_after: int) -> None:
        self.tenant_id = tenant_id
        self.quota = quota
        self.limit = limit
        self.requested = requested
        self.retry_after = retry_after
        if requested > limit:
            detail = (
                f"{requested} events are more than tenant {tenant_id}'s whole quota of {limit} per minute: "
                "none stored; send smaller batches."
            )
        else:
            detail = (
                f"Tenant {tenant_id} is over its quota of {limit} events per minute: "
                f"{'this event was' if requested == 1 else f'these {requested} events were'} refused, none stored."
            )
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class QuotaHold:
    """Why an execution's action waits, and until when (stored as ``governance_decision["hold"]``)."""

    kind: str
    reason: str
    until: dt.datetime


def clock() -> dt.datetime:
    """The quotas' clock: the server's (never a caller's); tests set a fixed one."""
    return timezone.now()


# --- the counter -------------------------------------------------------------------------------------


def counter_backend() -> str:
    """``redis`` or ``database``: where quota counts live in this configuration."""
    return "redis" if redis_client(CACHE_ALIAS) is not None else "database"


def _redis_key(key: str, window: Window) -> str:
    return f"{REDIS_PREFIX}:{key}:{int(window.start.timestamp())}"


def _script(client: Any, source: str) -> Any:
    registered = _scripts.get((id(client), source))
    if registered is None:
        registered = _scripts[(id(client), source)] = client.register_script(source)
    return registered


def counter_reserve(key: str, amount: int, limit: int, window: Window) -> bool:
    """Add ``amount`` to the window's count of ``key`` if it stays within ``limit``; False (nothing added) if not."""
    if amount <= 0:
        return True
    client = redis_client(CACHE_ALIAS)
    if client is not None:
        try:
            reserve = _script(client, RESERVE_SCRIPT)
            count = reserve(keys=[_redis_key(key, window)], args=[amount, limit, window.seconds + 60])
        except RedisError as error:  # a connection error's traceback says nothing more than its message
            logger.warning("quota counter unreachable (%s): %s not enforced", error, key)
            return True
        return int(count) >= 0
    if amount > limit:
        return False
    return _database_reserve(key, amount, limit, window)


def _database_reserve(key: str, amount: int, limit: int, window: Window) -> bool:
    """One statement, atomic on SQLite (3.24+) and PostgreSQL alike: insert the window's row with ``amount``,
    or add ``amount`` to it only while the sum stays within ``limit``; one row changed means reserved."""
    quote = connection.ops.quote_name
    table, key_column, start_column, count_column = (
        quote(name) for name in (QuotaCounter._meta.db_table, "key", "window_start", "count")
    )
    sql = (
        f"INSERT INTO {table} ({key_column}, {start_column}, {count_column}) VALUES (%s, %s, %s) "
        f"ON CONFLICT ({key_column}, {start_column}) DO UPDATE "
        f"SET {count_column} = {table}.{count_column} + excluded.{count_column} "
        f"WHERE {table}.{count_column} + excluded.{count_column} <= %s"
    )
    start = connection.ops.adapt_datetimefield_value(window.start)
    # A write like any other: on SQLite taking the write lock is retried with backoff (write_transaction);
    # inside a caller's transaction it is a savepoint of it.
    with write_transaction(), connection.cursor() as cursor:
        cursor.execute(sql, [key, start, amount, limit])
        return cursor.rowcount == 1


def counter_add(key: str, amount: int, window: Window) -> None:
    """Add ``amount`` to the window's count of ``key`` with no limit (counts of what was refused)."""
    counter_reserve(key, amount, 2**62, window)


def counter_release(key: str, amount: int, window: Window) -> None:
    """Give back ``amount`` reserved in the window (the work it was reserved for was not done)."""
    if amount <= 0:
        return
    client = redis_client(CACHE_ALIAS)
    if client is not None:
        try:
            _script(client, RELEASE_SCRIPT)(keys=[_redis_key(key, window)], args=[amount])
        except RedisError as error:
            logger.warning("quota counter unreachable (%s): %s not given back", error, key)
        return
    QuotaCounter.objects.filter(key=key, window_start=window.start, count__gte=amount).update(count=F("count") - amount)


def counter_values(keys: list[str], window: Window) -> dict[str, int]:
    """The window's count of each key (0 when none)."""
    client = redis_client(CACHE_ALIAS)
    if client is not None:
        try:
            values = client.mget([_redis_key(key, window) for key in keys]) if keys else []
        except RedisError as error:
            logger.warning("quota counter unreachable (%s)", error)
            values = [None] * len(keys)
        return {key: int(value or 0) for key, value in zip(keys, values, strict=True)}
    stored = dict(QuotaCounter.objects.filter(key__in=keys, window_start=window.start).values_list("key", "count"))
    return {key: int(stored.get(key, 0)) for key in keys}


def counters_prune(now: dt.datetime | None = None) -> int:
    """Delete database counts of windows that ended over COUNTERS_KEPT ago; how many (Redis keys expire)."""
    now = now or timezone.now()
    deleted, _ = QuotaCounter.objects.filter(window_start__lt=now - COUNTERS_KEPT).delete()
    return deleted


# --- the quotas ---------------------------------------------------------------------------------------


def events_key(tenant_id: str) -> str:
    return f"events:{tenant_id}"


def executions_key(tenant_id: str) -> str:
    return f"executions:{tenant_id}"


def refused_events_key(tenant_id: str) -> str:
    return f"events_refused:{tenant_id}"


def deferred_executions_key(tenant_id: str) -> str:
    return f"executions_deferred:{tenant_id}"


@dataclass(frozen=True)
class EventReservation:
    """Events counted in their tenants' current minute; ``release`` gives them back."""

    counts: dict[str, int]
    window: Window

    def release(self) -> None:
        """Give the counts back; never raises (called while another error is on its way up)."""
        for tenant_id, count in self.counts.items():
            try:
                counter_release(events_key(tenant_id), count, self.window)
            except Exception:  # e.g. the database connection that failed the store: the count stays used
                logger.exception("could not give back %s events of tenant %s to its quota", count, tenant_id)


def events_quota_reserve(
    counts: dict[str, int], now: dt.datetime | None = None, record_refusal: bool = True
) -> EventReservation:
    """Count ``counts`` ({tenant id: new events}) in each tenant's events-per-minute quota, all or nothing.

    Raises QuotaExceeded for the first tenant they do not fit (what was reserved for the others is given
    back, so nothing stays counted); the refusal is counted for the dashboard and ``/metrics``
    (``events_quota_refused``), unless ``record_refusal`` is false: a caller reserving inside a transaction
    that the refusal rolls back records it after the rollback.
    """
    now = now or clock()
    window = Window.at(now, EVENTS_WINDOW_SECONDS)
    wanted = {tenant_id: count for tenant_id, count in counts.items() if count > 0}
    limits = event_quota_limits(list(wanted))
    reserved: dict[str, int] = {}
    for tenant_id, count in sorted(wanted.items()):
        limit = limits.get(tenant_id)
        if limit is None:
            continue  # no such tenant: the events' own checks refuse them
        if not counter_reserve(events_key(tenant_id), count, limit, window):
            EventReservation(reserved, window).release()
            refused = QuotaExceeded(tenant_id, "events_per_minute", limit, count, window.seconds_left(now))
            if record_refusal:
                events_quota_refused(refused, now)
            raise refused
        reserved[tenant_id] = count
    return EventReservation(reserved, window)


def event_quota_limits(tenant_ids: list[str]) -> dict[str, int]:
    """{tenant id: events_per_minute_quota} of the tenants that exist, read at the moment (a changed quota
    counts for the very next post).

    TRICKY: one plain SELECT, not the ORM: it runs on every event post, where building the queryset cost
    more CPU than the round trip (a sixth of the web process's CPU per one-event post, by profile).
    """
    if not tenant_ids:
        return {}
    quote = connection.ops.quote_name
    table = quote(Tenant._meta.db_table)
    key, limit = (quote(column_of(Tenant, name)) for name in ("id", "events_per_minute_quota"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {key}, {limit} FROM {table} WHERE {key} IN ({placeholders(len(tenant_ids))})", tenant_ids
        )
        return {tenant_id: int(value) for tenant_id, value in cursor.fetchall()}


def events_quota_refused(refused: QuotaExceeded, now: dt.datetime | None = None) -> None:
    """Count a refusal of events for the dashboard (today's refused events) and ``/metrics``."""
    now = now or clock()
    counter_add(refused_events_key(refused.tenant_id), refused.requested, Window.at(now, DAY_SECONDS))
    count_quota_refusal(refused.tenant_id, refused.requested)


def quota_counts_in_database() -> bool:
    """Whether quota counts are rows of this database (no Redis): then a reservation can share the
    transaction of what it counts, and is undone with it."""
    return counter_backend() == "database"


def execution_quota_hold(tenant: Tenant, now: dt.datetime | None = None) -> QuotaHold | None:
    """Count one action start in the tenant's executions-per-hour quota; a QuotaHold until the next hour when full.

    Call right before an execution's first action attempt is claimed (conditions and approval done): a
    held execution is counted nothing and waits (``deferred``) until ``QuotaHold.until``.
    """
    now = now or clock()
    window = Window.at(now, EXECUTIONS_WINDOW_SECONDS)
    limit = int(tenant.executions_per_hour_quota)
    if counter_reserve(executions_key(tenant.pk), 1, limit, window):
        return None
    counter_add(deferred_executions_key(tenant.pk), 1, Window.at(now, DAY_SECONDS))
    count_quota_deferral(tenant.pk)
    return QuotaHold(
        kind=HOLD_KIND,
        reason=f"Tenant {tenant.pk} started its quota of {limit} executions this hour; "
        f"the action runs after {window.end:%H:%M} UTC.",
        until=window.end,
    )


def execution_quota_release(tenant_id: str, counted_at: dt.datetime) -> None:
    """Give back one action start counted at ``counted_at`` (the caller lost the claim to another worker)."""
    counter_release(executions_key(tenant_id), 1, Window.at(counted_at, EXECUTIONS_WINDOW_SECONDS))


@dataclass(frozen=True)
class QuotaUse:
    """A tenant's quotas now: use of each in its current window, its limit, and today's refusals (UTC)."""

    events_this_minute: int
    events_per_minute_quota: int
    executions_this_hour: int
    executions_per_hour_quota: int
    events_refused_today: int
    executions_deferred_today: int


def quota_use(tenant: Tenant, now: dt.datetime | None = None) -> QuotaUse:
    """Read a tenant's quota counts now (changes nothing)."""
    now = now or clock()
    minute = Window.at(now, EVENTS_WINDOW_SECONDS)
    hour = Window.at(now, EXECUTIONS_WINDOW_SECONDS)
    day = Window.at(now, DAY_SECONDS)
    tenant_id = tenant.pk
    daily = counter_values([refused_events_key(tenant_id), deferred_executions_key(tenant_id)], day)
    return QuotaUse(
        events_this_minute=counter_values([events_key(tenant_id)], minute)[events_key(tenant_id)],
        events_per_minute_quota=int(tenant.events_per_minute_quota),
        executions_this_hour=counter_values([executions_key(tenant_id)], hour)[executions_key(tenant_id)],
        executions_per_hour_quota=int(tenant.executions_per_hour_quota),
        events_refused_today=daily[refused_events_key(tenant_id)],
        executions_deferred_today=daily[deferred_executions_key(tenant_id)],
    )
