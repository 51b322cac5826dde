"""The service's settings: one ``AUTOMATIONS`` dict in the Django settings, read through ``app_settings``.

    AUTOMATIONS = {"PIPELINE_BATCH_SIZE": 50, "WEBHOOK_READ_TIMEOUT": 10.0}

``app_settings.PIPELINE_BATCH_SIZE`` is the project's value, else the default below: the defaults live
here and nowhere else (DRF's ``api_settings`` pattern). Every key can also come from the environment as
``AUTOMATIONS_<KEY>`` (``settings_from_environ``, read by ``config/settings/base.py``). Values are read at
call time, and ``override_settings(AUTOMATIONS=...)`` (or pytest-django's ``settings``) takes effect at
once. ``automations/checks.py`` checks every key and invariant at start-up; docs/settings.md is the table.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.core.signals import setting_changed

SETTING_NAME = "AUTOMATIONS"
ENV_PREFIX = "AUTOMATIONS_"

# Delay before webhook retry n (n = 1..10), in seconds: 30 s, 1 min, 2 min, 5 min, 15 min, 30 min, 1 h, 2 h,
# 4 h, 8 h. With the first attempt that makes 11 attempts; full jitter draws each delay from [0, step].
DEFAULT_WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (30, 60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800)


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class AutomationsSettings:
    """Every setting of the service with its default; the ``doc`` of each is its line in docs/settings.md."""

    # --- ingestion and tenants
    DEFAULT_TENANT: str | None = field(
        default=None, metadata=_doc("Tenant of an event that names none (single-tenant installs); None: refused.")
    )
    MAX_EVENT_PAYLOAD_BYTES: int = field(default=64 * 1024, metadata=_doc("Largest event payload, in bytes."))
    MAX_EVENTS_PER_REQUEST: int = field(default=500, metadata=_doc("Most events one POST /api/events may carry."))
    MODEL_EVENTS: dict[str, dict[str, str]] = field(
        default_factory=dict,
        metadata=_doc(
            'Host models whose saves and deletes become events: {"app_label.Model": {"created": "product_added", '
            '"updated": ..., "deleted": ... (or "post_save", "post_delete"), "tenant": dotted path of a callable '
            '(instance) -> tenant id, or "tenant_attribute": "tenant_id", "source": "store"}} (docs/embedding.md).'
        ),
    )
    # --- the pipeline
    PIPELINE_BATCH_SIZE: int = field(
        default=25,
        metadata=_doc(
            "Events or executions one pipeline task takes, one transaction per step. At most "
            "WEBHOOK_BATCH_CONCURRENCY, so a batch's POSTs run in parallel."
        ),
    )
    BACKLOG_LANE: bool = field(
        default=False,
        metadata=_doc(
            "Match a tenant's events on the backlog queue while more wait than a batch takes, so a worker of its "
            "own at a lower CPU priority works through one tenant's flood while the other tenants' events go "
            "through at once (docs/pipeline.md, Fairness between tenants). On only with a worker consuming the "
            "backlog queue (README, Production)."
        ),
    )
    MAX_CAUSATION_DEPTH: int = field(
        default=5, metadata=_doc("Events caused by actions chain at most this deep; deeper executions are blocked.")
    )
    CHAIN_SUBJECT_KEYS: list[str] = field(
        default_factory=lambda: ["product_id"],
        metadata=_doc(
            "Chain loop protection: payload keys that name an event's subject when it has no customer_id (the "
            "first present wins); a rule runs once per subject in one causal chain (docs/pipeline.md)."
        ),
    )
    EXECUTION_LEASE_SECONDS: int = field(
        default=60,
        metadata=_doc(
            "A worker running an action holds it this long, then the lease sweeper reclaims it. Above "
            "CELERY_TASK_TIME_LIMIT, far below the broker's visibility timeout."
        ),
    )
    ACTION_MAX_ATTEMPTS: int = field(
        default=5, metadata=_doc("Attempts of an action whose outcome stays unknown (same idempotency key).")
    )
    ACTION_RETRY_BASE_SECONDS: float = field(
        default=30.0, metadata=_doc("Backoff of such an action: base * 2**(attempt-1), +/-20 % jitter, capped.")
    )
    ACTION_RETRY_MAX_SECONDS: float = field(default=3600.0, metadata=_doc("The cap of that backoff."))
    SWEEP_AFTER_SECONDS: int = field(
        default=60, metadata=_doc("The outbox sweeper re-queues events and executions untouched for this long.")
    )
    SWEEP_BATCH_SIZE: int = field(default=500, metadata=_doc("Rows one sweep re-queues at most."))
    PUBLISH_BACKOFF_SECONDS: float = field(
        default=5.0,
        metadata=_doc("After a failed publish, skip publishing this long (the sweeper catches up)."),
    )
    PUBLISH_COALESCE_SECONDS: float = field(
        default=0.005,
        metadata=_doc(
            "A process sends wake-ups for matching (and running) at most once per this long, one message per "
            "batch: the first after a quiet spell at once, those within the window after it gathered into the "
            "next, so events posted one per call are matched in batches under load and a lone event waits for "
            "nothing; 0 sends each at once."
        ),
    )
    # --- kinds and providers a host project adds (docs/extending.md)
    ACTION_KINDS: list[str] = field(default_factory=list, metadata=_doc("Dotted paths to host ActionKind specs."))
    TRIGGER_KINDS: list[str] = field(default_factory=list, metadata=_doc("Dotted paths to host TriggerKind specs."))
    OPERATORS: list[str] = field(default_factory=list, metadata=_doc("Dotted paths to host OperatorKind specs."))
    ACTION_HANDLERS: dict[str, str] = field(
        default_factory=dict,
        metadata=_doc(
            "{action_type: dotted path}: run a registered action kind in process instead of delivering its command."
        ),
    )
    METRIC_PROVIDERS: dict[str, str] = field(
        default_factory=dict,
        metadata=_doc(
            "{metric: dotted path} of callables (tenant) -> value: live facts in every rule's context, and "
            "what threshold ticks pull (metrics without one use the latest pushed sample)."
        ),
    )
    # --- listeners
    SCHEDULE_GRACE_SECONDS: int = field(
        default=3600, metadata=_doc("How late a schedule slot may still fire; older missed slots are recorded.")
    )
    BEHAVIOR_CATCHUP_HOURS: float = field(
        default=24.0, metadata=_doc("Behaviours that became true longer ago are not fired.")
    )
    BEHAVIOR_MAX_FIRES_PER_TICK: int = field(
        default=500, metadata=_doc("Matches fired per behaviour rule and tick; a backlog spreads out.")
    )
    # --- history (docs/operations.md, "History retention")
    HISTORY_RETENTION_DAYS: int = field(
        default=90,
        metadata=_doc(
            "Events (customer activity included) and metric samples are kept this many days, then pruned "
            "hourly. Kept longer: events that started an execution still kept, each metric's latest sample, "
            "and a tenant's events within its longest behaviour timeframe plus BEHAVIOR_CATCHUP_HOURS. Raw "
            "executions follow each tenant's own `execution_retention_days` (a tenant setting, default 90; "
            "docs/analytics.md)."
        ),
    )
    HISTORY_PRUNE_BATCH_SIZE: int = field(
        default=1000,
        metadata=_doc(
            "Rows one pruning statement deletes (executions, notices, events, samples); a run stops after 50 "
            "batches of each kind."
        ),
    )
    # --- notices
    NOTICE_CHANNELS: list[str] = field(
        default_factory=lambda: ["email"],
        metadata=_doc("Channels approval requests and failure notices use besides the in-app notice."),
    )
    FAILURE_NOTICE_WINDOW_MINUTES: int = field(
        default=60,
        metadata=_doc(
            "A rule's failures within one window (aligned to the clock, UTC) are one notice per owner that "
            "counts them; the tenant's failure_messages decides the emails (docs/notifications.md)."
        ),
    )
    NOTIFICATION_CHANNELS: dict[str, str] = field(
        default_factory=dict,
        metadata=_doc('{"push": dotted path, "sms": ...}: channel backends; unset channels say "not configured".'),
    )
    # --- webhook delivery (docs/webhooks.md)
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: bool = field(
        default=False,
        metadata=_doc(
            "Allow loopback, private, link-local and CGNAT destinations (self-hosted, tests); metadata, "
            "multicast and broadcast addresses stay refused."
        ),
    )
    WEBHOOK_ALLOW_LOOPBACK: bool = field(
        default=False,
        metadata=_doc(
            "Allow loopback destinations only (127.0.0.0/8, ::1, localhost): the demo store's receiver. On in "
            "the local settings (make run); the production settings force it off."
        ),
    )
    WEBHOOK_REQUIRE_HTTPS: bool = field(default=False, metadata=_doc("Refuse plain http:// endpoint URLs."))
    WEBHOOK_CONNECT_TIMEOUT: float = field(default=5.0, metadata=_doc("Seconds to connect."))
    WEBHOOK_READ_TIMEOUT: float = field(default=15.0, metadata=_doc("Seconds per socket read."))
    WEBHOOK_TOTAL_TIMEOUT: float = field(default=30.0, metadata=_doc("Seconds for the whole request."))
    WEBHOOK_MAX_RESPONSE_BYTES: int = field(default=64 * 1024, metadata=_doc("Largest response body read."))
    WEBHOOK_RESPONSE_EXCERPT_CHARS: int = field(default=1024, metadata=_doc("Response text an attempt keeps."))
    WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = field(
        default=DEFAULT_WEBHOOK_RETRY_SCHEDULE,
        metadata=_doc("Step of each retry's delay, in seconds (full jitter); its length is the retry count."),
    )
    WEBHOOK_MAX_RETRY_AFTER: int = field(
        default=24 * 3600, metadata=_doc("A receiver's Retry-After is cut to this many seconds.")
    )
    WEBHOOK_CLAIM_LEASE: float = field(
        default=120.0,
        metadata=_doc("How long a worker keeps a claimed delivery; above the total plus connect timeout."),
    )
    WEBHOOK_SECRET_GRACE: int = field(
        default=24 * 3600, metadata=_doc("Seconds the previous signing secret keeps signing after a rotation.")
    )
    WEBHOOK_USER_AGENT: str = field(default="automations-webhooks/1.0", metadata=_doc("User-Agent of every POST."))
    WEBHOOK_BATCH_CONCURRENCY: int = field(
        default=25, metadata=_doc("Threads per worker process for a batch's webhook POSTs.")
    )
    WEBHOOK_ENDPOINT_CONCURRENCY: int = field(
        default=4, metadata=_doc("POSTs in flight to one endpoint per worker process; the rest queue for it.")
    )
    WEBHOOK_UNHEALTHY_AFTER: int = field(
        default=10,
        metadata=_doc(
            "Attempts to one endpoint that fail or are retried in a row before it is marked unhealthy; one "
            "success marks it healthy again (docs/webhooks.md)."
        ),
    )
    WEBHOOK_UNHEALTHY_RETRY_SECONDS: float = field(
        default=900.0,
        metadata=_doc(
            "While an endpoint is unhealthy: each retry of its deliveries waits at least this long, and a "
            "delivery sweep sends it one probe, deferring its other due deliveries by this long."
        ),
    )
    WEBHOOK_INLINE_WAIT: float = field(
        default=0.5,
        metadata=_doc("Seconds a pipeline batch waits for its POSTs; a later answer is recorded when it comes."),
    )
    WEBHOOK_TRIGGER_PAYLOAD_MAX_BYTES: int = field(
        default=16 * 1024,
        metadata=_doc(
            "Largest triggering event payload a command's trigger carries (compact JSON, UTF-8); a larger one "
            'is left out with payload_omitted "too_large". 0: never sent.'
        ),
    )
    WEBHOOK_CA_BUNDLE: str | None = field(
        default=None, metadata=_doc("CA bundle for https endpoints; None: the system's trust store.")
    )
    WEBHOOK_ENQUEUE_DELIVERY: str | None = field(
        default="executions.services.delivery_settlement.enqueue_delivery",
        metadata=_doc(
            "Dotted path of a callable (delivery id) called after commit when a delivery is made due by hand; "
            "None or empty: the next sweep sends it."
        ),
    )


# The keys of one AUTOMATIONS["MODEL_EVENTS"] entry (executions/signals.py reads them; the checks refuse others).
MODEL_EVENT_KEYS = frozenset(
    {"created", "updated", "deleted", "post_save", "post_delete", "tenant", "tenant_attribute", "source", "fields"}
)

SETTING_FIELDS: dict[str, dataclasses.Field[Any]] = {
    item.name: item for item in dataclasses.fields(AutomationsSettings)
}


def default_value(name: str) -> Any:
    """The documented default of setting ``name``."""
    spec = SETTING_FIELDS[name]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def _parse_environ_value(name: str, raw: str) -> Any:
    """An environment string as the type of setting ``name``'s default (bool, int, float, list, tuple, dict)."""
    default = default_value(name)
    text = raw.strip()
    if isinstance(default, bool):
        return text.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, list):
        return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(default, tuple):
        return tuple(float(item) for item in text.split(",") if item.strip())
    if isinstance(default, dict):
        return json.loads(text) if text else {}
    return text or None


def settings_from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``AUTOMATIONS`` keys set in ``environ`` as ``AUTOMATIONS_<KEY>``, parsed; unset keys are left out.

    A value that does not parse raises ``ImproperlyConfigured`` naming the variable.
    """
    from django.core.exceptions import ImproperlyConfigured

    values: dict[str, Any] = {}
    for name in SETTING_FIELDS:
        raw = environ.get(ENV_PREFIX + name)
        if raw is None:
            continue
        try:
            values[name] = _parse_environ_value(name, raw)
        except ValueError as error:
            raise ImproperlyConfigured(f"{ENV_PREFIX}{name}={raw!r} does not parse: {error}") from error
    return values


def project_values() -> dict[str, Any]:
    """The project's ``AUTOMATIONS`` dict (empty when unset or not a dict)."""
    values = getattr(settings, SETTING_NAME, None)
    return values if isinstance(values, dict) else {}


def build_settings(values: Mapping[str, Any]) -> AutomationsSettings:
    """The settings object for ``values``; unknown keys are left to the system checks."""
    known = {name: value for name, value in values.items() if name in SETTING_FIELDS}
    if "WEBHOOK_RETRY_SCHEDULE" in known:
        known["WEBHOOK_RETRY_SCHEDULE"] = tuple(known["WEBHOOK_RETRY_SCHEDULE"])
    return AutomationsSettings(**known)


class _LazySettings:
    """``app_settings``: the current ``AutomationsSettings``, rebuilt when ``AUTOMATIONS`` changes."""

    def __init__(self) -> None:
        self._current: AutomationsSettings | None = None

    def reload(self) -> None:
        self._current = None

    def __getattr__(self, name: str) -> Any:
        current = self._current
        if current is None:
            current = self._current = build_settings(project_values())
        return getattr(current, name)


_lazy_settings = _LazySettings()
app_settings = cast(AutomationsSettings, _lazy_settings)


def _reload_on_change(sender: object, setting: str, **kwargs: object) -> None:
    if setting == SETTING_NAME:
        _lazy_settings.reload()


setting_changed.connect(_reload_on_change, dispatch_uid="automations.conf")
