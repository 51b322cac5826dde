"""``AutomationWorker``: the spec's worker object, on top of Celery.

    worker = AutomationWorker()                 # or AutomationWorker(tenant_id="tenant_123")
    worker.event_listener.emit_event("product_added", {"product_id": "prod_123", "tenant_id": "tenant_123"})
    worker.start()                              # runs a Celery worker for the events, executions and actions queues

The event's tenant comes from the payload's ``tenant_id``, else ``AutomationWorker(tenant_id=...)``,
else ``AUTOMATIONS["DEFAULT_TENANT"]`` (single-tenant installs), else a ValidationError says so.
The listeners of schedules, thresholds and behaviours add ``check_schedules()``, ``check_thresholds()``
and ``check_behaviors()`` to this class.

Standalone: ``python -m executions.worker`` (the same as
``celery -A config worker -Q events,executions,actions,health``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import ValidationError

from automations.conf import app_settings

logger = logging.getLogger(__name__)

# "health" carries only the readiness canary, so a backlog on the others never delays it.
QUEUES = ("events", "executions", "actions", "health")


class EventListener:
    """Emits events into the pipeline on behalf of an ``AutomationWorker``."""

    def __init__(self, worker: AutomationWorker) -> None:
        self.worker = worker

    def tenant_for(self, payload: dict[str, Any]) -> str:
        """The payload's tenant_id, else the worker's, else AUTOMATIONS["DEFAULT_TENANT"]; else ValidationError."""
        for candidate in (payload.get("tenant_id"), self.worker.tenant_id, app_settings.DEFAULT_TENANT):
            if candidate not in (None, ""):
                return str(candidate)
        raise ValidationError(
            {
                "tenant_id": [
                    "no tenant for this event: put tenant_id in the payload, create AutomationWorker(tenant_id=...), "
                    "or set AUTOMATIONS['DEFAULT_TENANT']"
                ]
            }
        )

    def emit_event(self, event_type: str, payload: dict[str, Any] | None = None, **options: Any) -> Any:
        """Store an event for the resolved tenant; ``options`` are emit_event's (source, idempotency_key, ...)."""
        from executions.services import emit_event

        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            raise ValidationError({"payload": ["must be a JSON object"]})
        result = emit_event(self.tenant_for(payload), event_type, payload, **options)
        logger.info("Event emitted: %s (event %s%s)", event_type, result.id, ", duplicate" if result.duplicate else "")
        if not result.duplicate:
            self.match(result.id)
        return result

    def match(self, event_id: int) -> None:
        """Match the event to its rules here, as the worker's listener: "Event trigger matched: …" is logged in
        this process (the Testing Guide's shell) and the executions are queued for the Celery worker.

        The same step the queued ``match_events`` task runs; whichever comes second finds the event
        dispatched and does nothing.
        """
        from executions.pipeline import match_events

        match_events([event_id], run_here=False)


class AutomationWorker:
    """The automation worker: an event listener, and a Celery worker for the pipeline's queues."""

    def __init__(
        self,
        tenant_id: str | None = None,
        queues: tuple[str, ...] = QUEUES,
        concurrency: int | None = None,
        loglevel: str = "INFO",
    ) -> None:
        self.tenant_id = tenant_id
        self.queues = tuple(queues)
        self.concurrency = concurrency
        self.loglevel = loglevel
        self.event_listener = EventListener(self)

    def worker_argv(self) -> list[str]:
        argv = ["worker", "-Q", ",".join(self.queues), "--loglevel", self.loglevel]
        if self.concurrency:
            argv += ["--concurrency", str(self.concurrency)]
        return argv

    def command(self, *options: str, global_options: list[str] | tuple[str, ...] = ()) -> list[str]:
        """The command that runs this worker in a process of its own, with extra worker ``options`` (and
        Celery's ``global_options``, such as ``--quiet``, before the subcommand)."""
        import sys

        from executions.celery_app import celery_app

        # -A names the project's app by its main name: "config" here, a host project's own name there.
        app_name = celery_app().main or "config"
        return [sys.executable, "-m", "celery", "-A", app_name, *global_options, *self.worker_argv(), *options]

    def check_schedules(self, now: dt.datetime | None = None) -> Any:
        """One pass of the schedule listener: fire every due slot (Testing Guide §3)."""
        from executions.listeners.schedule import check_schedules

        return check_schedules(now)

    def check_thresholds(self, now: dt.datetime | None = None) -> Any:
        """One pass of the threshold monitor over every enabled threshold rule."""
        from executions.listeners.threshold import check_thresholds

        return check_thresholds(now)

    def check_behaviors(self, now: dt.datetime | None = None) -> Any:
        """One pass of the behaviour tracker over recent customer activity."""
        from executions.listeners.behavior import check_behaviors

        return check_behaviors(now)

    def start(self) -> None:
        """Run a Celery worker consuming the pipeline's queues, in this process, until stopped."""
        from executions.celery_app import celery_app

        celery_app().worker_main(self.worker_argv())


def main() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    AutomationWorker().start()


if __name__ == "__main__":
    main()
