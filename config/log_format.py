"""Logs: plain lines by default, one JSON object per line with ``LOG_FORMAT=json`` (docs/operations.md, "Logs").

Both formats go through structlog's ``ProcessorFormatter``, so the standard library's records (Django,
Celery, this project's ``logging.getLogger`` calls) and structlog's own (django-structlog's request
lines) come out alike, with:

- the ids bound to the current context: ``request_id`` and ``user_id`` on web lines (django-structlog's
  ``RequestMiddleware``), ``ip`` as the API throttle sees the client;
- the ids a pipeline line passes as ``extra``: ``tenant_id``, ``rule_id``, ``execution_id``,
  ``event_id`` (``log_fields`` on the models);
- values of keys that name a secret (``password``, ``token``, ``secret``, ``authorization``,
  ``signature``, ``cookie``) replaced by ``[redacted]``: a second line of defence, as nothing logs them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import structlog

LOG_FORMATS = ("plain", "json")
SECRET_KEY_RE = re.compile(r"password|passwd|token|secret|authorization|signature|cookie|api_key", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_secrets(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if SECRET_KEY_RE.search(key):
            event_dict[key] = REDACTED
    return event_dict


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_secrets,
]


def configure_structlog() -> None:
    """structlog hands its events to the standard library, whose handlers format every record alike."""
    structlog.configure(
        processors=[
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Django's ``LOGGING`` for ``log_format`` (``plain`` or ``json``) at ``level``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} (got {log_format!r})")
    configure_structlog()
    logging.captureWarnings(True)  # Python's warnings (Celery's, Django's) become log lines too
    if log_format == "json":
        renderer: list[Any] = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0, pad_level=False)]
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        "foreign_pre_chain": SHARED_PROCESSORS,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main"}},
        "root": {"handlers": ["console"], "level": level},
        # runserver's request lines: the same handler, so they come out in the same format
        "loggers": {"django.server": {"handlers": ["console"], "level": level, "propagate": False}},
    }
