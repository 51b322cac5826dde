"""System checks: every ``AUTOMATIONS`` setting and every invariant between settings, in one place.

``manage.py check`` (run by ``migrate``, ``runserver``, ``serve`` and the production recipe's
``check --deploy``) reports them. The invariants are plain functions, so the code that depends on one
(the webhook claim lease) asks the same function at run time rather than restating it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from automations.conf import (
    ENV_PREFIX,
    MODEL_EVENT_KEYS,
    SETTING_FIELDS,
    SETTING_NAME,
    AutomationsSettings,
    app_settings,
    default_value,
    project_values,
)

# Settings that must be > 0 (counts, sizes, timeouts) or >= 0 (waits).
POSITIVE = (
    "MAX_EVENT_PAYLOAD_BYTES",
    "MAX_EVENTS_PER_REQUEST",
    "PIPELINE_BATCH_SIZE",
    "MAX_CAUSATION_DEPTH",
    "WEBHOOK_UNHEALTHY_AFTER",
    "EXECUTION_LEASE_SECONDS",
    "ACTION_MAX_ATTEMPTS",
    "SWEEP_AFTER_SECONDS",
    "SWEEP_BATCH_SIZE",
    "WEBHOOK_CONNECT_TIMEOUT",
    "WEBHOOK_READ_TIMEOUT",
    "WEBHOOK_TOTAL_TIMEOUT",
    "WEBHOOK_MAX_RESPONSE_BYTES",
    "WEBHOOK_CLAIM_LEASE",
    "WEBHOOK_BATCH_CONCURRENCY",
    "WEBHOOK_ENDPOINT_CONCURRENCY",
    "BEHAVIOR_MAX_FIRES_PER_TICK",
    "HISTORY_RETENTION_DAYS",
    "HISTORY_PRUNE_BATCH_SIZE",
    "FAILURE_NOTICE_WINDOW_MINUTES",
)
NOT_NEGATIVE = (
    "ACTION_RETRY_BASE_SECONDS",
    "ACTION_RETRY_MAX_SECONDS",
    "PUBLISH_BACKOFF_SECONDS",
    "SCHEDULE_GRACE_SECONDS",
    "BEHAVIOR_CATCHUP_HOURS",
    "WEBHOOK_RESPONSE_EXCERPT_CHARS",
    "WEBHOOK_MAX_RETRY_AFTER",
    "WEBHOOK_SECRET_GRACE",
    "WEBHOOK_INLINE_WAIT",
    "WEBHOOK_TRIGGER_PAYLOAD_MAX_BYTES",
    "WEBHOOK_UNHEALTHY_RETRY_SECONDS",
)
# {name: dotted path} settings whose values must import.
DOTTED_PATH_MAPS = ("ACTION_HANDLERS", "METRIC_PROVIDERS", "NOTIFICATION_CHANNELS")


def webhook_claim_lease_problem(values: AutomationsSettings) -> str | None:
    """The claim lease must outlast the slowest request, or two workers could send one delivery at once."""
    slowest = float(values.WEBHOOK_TOTAL_TIMEOUT) + float(values.WEBHOOK_CONNECT_TIMEOUT)
    lease = float(values.WEBHOOK_CLAIM_LEASE)
    if lease > slowest:
        return None
    return (
        f"AUTOMATIONS['WEBHOOK_CLAIM_LEASE'] ({lease:g} s) must exceed WEBHOOK_TOTAL_TIMEOUT plus "
        f"WEBHOOK_CONNECT_TIMEOUT ({slowest:g} s)"
    )


def _type_matches(name: str, value: Any) -> bool:
    default = default_value(name)
    if value is None:
        return default is None or str(SETTING_FIELDS[name].type).endswith("| None")
    if default is None or isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, type(default))


def _shape_problems(values: dict[str, Any]) -> Iterable[CheckMessage]:
    for name, value in values.items():
        if name not in SETTING_FIELDS:
            close = difflib.get_close_matches(name, SETTING_FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see docs/settings.md"
            yield Error(f"AUTOMATIONS[{name!r}] is not a setting of this service", hint=hint, id="automations.E010")
        elif not _type_matches(name, value):
            expected = type(default_value(name)).__name__
            yield Error(
                f"AUTOMATIONS[{name!r}] must be a {expected}, not {value!r}",
                hint=f"the default is {default_value(name)!r}; see docs/settings.md",
                id="automations.E011",
            )


def _value_problems(current: AutomationsSettings) -> Iterable[CheckMessage]:
    for name in POSITIVE:
        if getattr(current, name) <= 0:
            yield Error(f"AUTOMATIONS[{name!r}] must be above 0", id="automations.E012")
    for name in NOT_NEGATIVE:
        if getattr(current, name) < 0:
            yield Error(f"AUTOMATIONS[{name!r}] must not be negative", id="automations.E012")
    if any(step < 0 for step in current.WEBHOOK_RETRY_SCHEDULE):
        yield Error("AUTOMATIONS['WEBHOOK_RETRY_SCHEDULE'] steps must not be negative", id="automations.E012")
    lease_problem = webhook_claim_lease_problem(current)
    if lease_problem:
        yield Error(lease_problem, id="automations.E013")
    if current.PIPELINE_BATCH_SIZE > current.WEBHOOK_BATCH_CONCURRENCY:
        yield Warning(
            "AUTOMATIONS['PIPELINE_BATCH_SIZE'] is above WEBHOOK_BATCH_CONCURRENCY: a batch's webhook POSTs "
            "will queue for threads and a batch may take more than one webhook timeout",
            id="automations.W010",
        )
    for name in DOTTED_PATH_MAPS:
        for key, path in getattr(current, name).items():
            if isinstance(path, str) and not _imports(path):
                yield Error(f"AUTOMATIONS[{name!r}][{key!r}] = {path!r} does not import", id="automations.E014")
    yield from _model_event_problems(current.MODEL_EVENTS)
    enqueue = current.WEBHOOK_ENQUEUE_DELIVERY
    if enqueue and not _imports(enqueue):
        yield Error(f"AUTOMATIONS['WEBHOOK_ENQUEUE_DELIVERY'] = {enqueue!r} does not import", id="automations.E014")


def _model_event_problems(mapping: dict[str, Any]) -> Iterable[CheckMessage]:
    """Each MODEL_EVENTS entry names an installed model, uses known keys and a tenant callable that imports."""
    for label, config in mapping.items():
        where = f"AUTOMATIONS['MODEL_EVENTS'][{label!r}]"
        if not isinstance(config, dict):
            yield Error(f"{where} must be a dict", id="automations.E017")
            continue
        try:
            django_apps.get_model(str(label))
        except (LookupError, ValueError):
            yield Error(
                f"{where}: no installed model {label!r}", hint='name it "app_label.Model"', id="automations.E017"
            )
        for key in sorted(set(config) - MODEL_EVENT_KEYS):
            yield Error(
                f"{where}[{key!r}] is not a key of a model mapping", hint="see docs/embedding.md", id="automations.E017"
            )
        tenant = config.get("tenant")
        if tenant and not (isinstance(tenant, str) and _imports(tenant)):
            yield Error(f"{where}['tenant'] = {tenant!r} does not import", id="automations.E014")


def _imports(path: str) -> bool:
    try:
        import_string(path)
    except ImportError:
        return False
    return True


def _old_style_names() -> Iterable[CheckMessage]:
    """``AUTOMATIONS_X = ...`` at the top of a settings module is no longer read: say so instead of ignoring it."""
    for name in SETTING_FIELDS:
        if hasattr(settings, ENV_PREFIX + name):
            yield Error(
                f"settings.{ENV_PREFIX}{name} is not read",
                hint=f'put it in the AUTOMATIONS dict: AUTOMATIONS = {{"{name}": ...}} (docs/settings.md)',
                id="automations.E015",
            )


@register()
def check_automations_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every ``AUTOMATIONS`` key is known and of its type, and the values hold their invariants."""
    raw = getattr(settings, SETTING_NAME, None)
    if raw is not None and not isinstance(raw, dict):
        return [Error(f"settings.{SETTING_NAME} must be a dict, not {type(raw).__name__}", id="automations.E016")]
    problems = [*_shape_problems(project_values()), *_old_style_names()]
    if not any(problem.id == "automations.E011" for problem in problems):
        problems.extend(_value_problems(app_settings))
    return problems


@register()
def check_pipeline_timing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Hard time limit < execution lease < Redis visibility timeout (RELIABILITY-NOTES 1.2)."""
    problems: list[CheckMessage] = []
    hard = getattr(settings, "CELERY_TASK_TIME_LIMIT", None)
    soft = getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", None)
    lease = app_settings.EXECUTION_LEASE_SECONDS
    visibility = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}).get("visibility_timeout")
    if hard is None or soft is None:
        problems.append(Error("set CELERY_TASK_SOFT_TIME_LIMIT and CELERY_TASK_TIME_LIMIT", id="automations.E001"))
        return problems
    if soft >= hard:
        problems.append(
            Error("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT", id="automations.E002")
        )
    if hard >= lease:
        problems.append(
            Warning(
                "CELERY_TASK_TIME_LIMIT should be below AUTOMATIONS['EXECUTION_LEASE_SECONDS'], or a slow action "
                "may be reclaimed while it still runs",
                id="automations.W001",
            )
        )
    if visibility is not None and lease * 10 > visibility:
        problems.append(
            Warning(
                "AUTOMATIONS['EXECUTION_LEASE_SECONDS'] should be far below the broker's visibility_timeout",
                id="automations.W002",
            )
        )
    return problems
