"""Liveness and readiness (docs/operations.md): ``/healthz``, ``/readyz`` and the worker canary.

- ``/healthz``: the web process answers. Use it as the liveness probe.
- ``/readyz``: the database answers, the broker accepts a connection, a canary task makes the round trip
  through the broker to a worker and back (through the database) within ``READYZ_CANARY_SECONDS``,
  and beat sent a periodic task within ``READYZ_BEAT_MAX_AGE_SECONDS``. Use it as the readiness probe.

The canary runs on its own queue (``health``), so a backlog of events never makes a busy worker look
dead. ``manage.py serve`` uses the same round trip to find a worker that is alive but not consuming
(a wedged pool) and replace it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Max
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from executions.celery_app import celery_app
from executions.models import ServiceHeartbeat

logger = logging.getLogger(__name__)

CANARY_TASK = "executions.health_canary"
CANARY_PREFIX = "canary:"
POLL_SECONDS = 0.05


@shared_task(name=CANARY_TASK, ignore_result=True, acks_late=False)
def health_canary_task(token: str) -> None:
    """Answer a canary: leave the token's heartbeat row (a worker pool process ran this)."""
    ServiceHeartbeat.objects.update_or_create(name=f"{CANARY_PREFIX}{token}", defaults={"beat_at": timezone.now()})


def canary_round_trip(timeout: float) -> float | None:
    """Send a canary to the workers and wait for its answer; the seconds it took, or None (no answer).

    Raises what publishing raises when the broker cannot be reached.
    """
    app = celery_app()

    token = uuid.uuid4().hex
    name = f"{CANARY_PREFIX}{token}"
    started = time.monotonic()
    app.send_task(CANARY_TASK, args=[token], retry=False)
    try:
        while time.monotonic() - started < timeout:
            if ServiceHeartbeat.objects.filter(name=name).exists():
                return time.monotonic() - started
            time.sleep(POLL_SECONDS)
        return None
    finally:
        # This answer and any late ones left by earlier canaries. TRICKY: best effort. A wedged worker may
        # hold SQLite's write lock: the delete's lock timeout must not replace the canary's answer (serve's
        # watch counted it as "answered" and never replaced that worker); a later round deletes the rows.
        stale = timezone.now() - dt.timedelta(minutes=10)
        try:
            ServiceHeartbeat.objects.filter(name=name).delete()
            ServiceHeartbeat.objects.filter(name__startswith=CANARY_PREFIX, beat_at__lt=stale).delete()
        except DatabaseError as error:
            logger.warning("canary %s: its heartbeat rows could not be deleted now (%s)", token, error)


@dataclass
class Readiness:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def add(self, name: str, ok: bool, detail: str, **extra: Any) -> None:
        self.checks[name] = {"ok": ok, "detail": detail, **extra}


def _check_database(readiness: Readiness) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        readiness.add("database", True, connection.vendor)
    except Exception as error:  # a probe reports every failure, whatever its kind
        readiness.add("database", False, f"{type(error).__name__}: {error}")


def _check_broker(readiness: Readiness) -> None:
    app = celery_app()

    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
        readiness.add("broker", True, app.conf.broker_url.split("://", 1)[0])
    except Exception as error:  # a probe reports every failure, whatever its kind
        readiness.add("broker", False, f"{type(error).__name__}: {error}")


def _check_worker(readiness: Readiness) -> None:
    timeout = float(settings.READYZ_CANARY_SECONDS)
    if not readiness.checks.get("broker", {}).get("ok"):
        readiness.add("worker", False, "not checked: the broker is unreachable")
        return
    try:
        took = canary_round_trip(timeout)
    except Exception as error:  # a probe reports every failure, whatever its kind
        readiness.add("worker", False, f"the canary could not be sent: {type(error).__name__}: {error}")
        return
    if took is None:
        readiness.add("worker", False, f"no worker answered the canary within {timeout:g} s")
    else:
        readiness.add("worker", True, "the canary made the round trip", seconds=round(took, 3))


def _check_beat(readiness: Readiness) -> None:
    from django_celery_beat.models import PeriodicTask

    max_age = dt.timedelta(seconds=float(settings.READYZ_BEAT_MAX_AGE_SECONDS))
    last = PeriodicTask.objects.filter(enabled=True).aggregate(last=Max("last_run_at"))["last"]
    if last is None:
        readiness.add("beat", False, "beat has not sent any periodic task yet")
        return
    age = (timezone.now() - last).total_seconds()
    ok = age <= max_age.total_seconds()
    detail = f"last periodic task sent {age:.0f} s ago" + ("" if ok else f" (more than {max_age.seconds} s)")
    readiness.add("beat", ok, detail, last_run_at=last.isoformat())


def readiness() -> Readiness:
    """Every readiness check, each with its own answer."""
    result = Readiness()
    _check_database(result)
    _check_broker(result)
    _check_worker(result)
    _check_beat(result)
    return result


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    result = readiness()
    if not result.ready:
        failed = ", ".join(name for name, check in result.checks.items() if not check["ok"])
        logger.warning("not ready: %s", failed)
    body = {"status": "ready" if result.ready else "not ready", "checks": result.checks}
    return JsonResponse(body, status=200 if result.ready else 503)
