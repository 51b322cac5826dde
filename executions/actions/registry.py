"""The action kind registry: one entry per action type, each a command to deliver or an in-process run.

An action kind declares exactly one way to run (``ActionEntry``): a command the pipeline delivers
(``@register_command(ActionType.X)`` on its command builder) or an in-process run that receives a
``deliver(command)`` callable (``@register_run(ActionType.X)``; ``send_notification``). Built-ins register
when ``executions.actions`` is imported (from ``ExecutionsConfig.ready()``).
``AUTOMATIONS["ACTION_HANDLERS"]`` maps an action type to the dotted path of an ``ActionEntry`` or
of an in-process run; it adds types or overrides built-ins.

A handler never changes the execution's status: it reports what happened in its ``ActionResult`` and the
pipeline records it. It must be idempotent for one execution and pass ``idempotency_key(execution)``
downstream, because an attempt whose outcome is unknown is retried with the same key.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from automations.conf import app_settings
from executions.actions.trigger import command_trigger
from executions.choices import ActionOutcome

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from executions.models import AutomationExecution


@dataclass(frozen=True)
class ActionResult:
    """What one attempt of an action did.

    ``outcome`` is succeeded, recorded (nothing received the command: only recorded, no error), failed
    (known not to have taken effect, or refused: never retried) or unknown (it may have taken effect:
    retried with the same idempotency key, after ``retry_after_seconds`` when given). ``data`` is stored
    in the execution's ``action_result``.
    """

    outcome: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    retry_after_seconds: float | None = None
    # Set when the command's webhook deliveries are still open: the delivery layer owns the retries
    # (its own schedule, ``send_due_deliveries``) and settles the execution when they end.
    delivery_next_attempt_at: dt.datetime | None = None

    @classmethod
    def succeeded(cls, **data: Any) -> ActionResult:
        return cls(ActionOutcome.SUCCEEDED, data)

    @classmethod
    def recorded(cls, **data: Any) -> ActionResult:
        """Nothing received the command (no endpoint for its action type): it was only recorded."""
        return cls(ActionOutcome.RECORDED, data)

    @classmethod
    def failed(cls, error: str, **data: Any) -> ActionResult:
        return cls(ActionOutcome.FAILED, data, error)

    @classmethod
    def unknown(cls, error: str, retry_after_seconds: float | None = None, **data: Any) -> ActionResult:
        return cls(ActionOutcome.UNKNOWN, data, error, retry_after_seconds)

    @classmethod
    def delivering(cls, error: str, next_attempt_at: dt.datetime | None, **data: Any) -> ActionResult:
        """The command is out for delivery and will be retried by the delivery sweeper: the execution waits."""
        return cls(ActionOutcome.UNKNOWN, data, error, None, next_attempt_at or dt.datetime.now(dt.UTC))

    @property
    def awaiting_delivery(self) -> bool:
        return self.delivery_next_attempt_at is not None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"outcome": str(self.outcome), **self.data}
        if self.error:
            result["error"] = self.error
        return result


ActionHandler = Callable[["AutomationExecution", dict[str, Any]], ActionResult]
CommandBuilder = Callable[["AutomationExecution", dict[str, Any]], dict[str, Any]]
Deliver = Callable[[dict[str, Any]], ActionResult]
InProcessRun = Callable[["AutomationExecution", dict[str, Any], Deliver], ActionResult]


@dataclass(frozen=True)
class ActionEntry:
    """One action kind's runtime: its key and exactly one way to run. Its config is validated by the
    kind's spec on the automations side (``automations.kinds``), before any rule is saved.

    ``command``: builds the platform command, which the pipeline delivers to the tenant's 1..N webhook
    endpoints for the kind (none: the result is ``recorded``, "not_delivered": the run is recorded only);
    the delivery's outcome is the action's. ``run``: an in-process run ``(execution, config, deliver) ->
    ActionResult`` that does its work here and may hand a command to ``deliver(command)``, which
    delivers it exactly as for a command kind and returns that delivery's result.
    The pipeline calls one or the other, never skips it.
    """

    key: str
    command: CommandBuilder | None = None
    run: InProcessRun | None = None

    def __post_init__(self) -> None:
        if (self.command is None) == (self.run is None):
            raise ValueError(f'action kind "{self.key}" must declare exactly one of command= or run=')


class UnknownActionType(LookupError):
    """No handler is registered for an action type."""


_REGISTRY: dict[str, ActionEntry] = {}


def register_command(key: str) -> Callable[[CommandBuilder], CommandBuilder]:
    """Register the decorated function as the command builder of action kind ``key`` (the pipeline delivers it)."""

    def decorator(function: CommandBuilder) -> CommandBuilder:
        _REGISTRY[str(key)] = ActionEntry(str(key), command=function)
        return function

    return decorator


def register_run(key: str) -> Callable[[InProcessRun], InProcessRun]:
    """Register the decorated function as the in-process run of action kind ``key`` (see ``ActionEntry``)."""

    def decorator(function: InProcessRun) -> InProcessRun:
        _REGISTRY[str(key)] = ActionEntry(str(key), run=function)
        return function

    return decorator


@cache
def _import_override(dotted_path: str) -> Any:
    return import_string(dotted_path)


def known_action_types() -> list[str]:
    return sorted({*_REGISTRY, *app_settings.ACTION_HANDLERS})


def get_action_entry(key: str) -> ActionEntry:
    """The action kind ``key``: the settings override if any, else the built-in (raises UnknownActionType).

    ``AUTOMATIONS["ACTION_HANDLERS"][key]`` is the dotted path of an ``ActionEntry``, or of an in-process run
    ``(execution, config, deliver) -> ActionResult``.
    """
    overrides: dict[str, str] = app_settings.ACTION_HANDLERS
    if key in overrides:
        target = _import_override(overrides[key])
        if isinstance(target, ActionEntry):
            return target
        return ActionEntry(key, run=target)
    entry = _REGISTRY.get(key)
    if entry is None:
        raise UnknownActionType(f'no handler for action type "{key}"; known types: {", ".join(known_action_types())}')
    return entry


def idempotency_key(execution: AutomationExecution) -> str:
    """The key every attempt of an execution's action sends downstream: the same on every retry."""
    return f"automation-execution-{execution.pk}"


def command_envelope(execution: AutomationExecution, command: str, **fields: Any) -> dict[str, Any]:
    """The platform command an action would send: a name, its idempotency key, its target, what triggered
    it (``trigger``, docs/webhooks.md) and the kind's own fields."""
    return {
        "command": command,
        "idempotency_key": idempotency_key(execution),
        "tenant_id": execution.tenant_id,
        "automation_rule_id": execution.automation_rule_id,
        "execution_id": execution.pk,
        "trigger": command_trigger(execution),
        **fields,
    }


def build_command(
    entry: ActionEntry, execution: AutomationExecution, config: dict[str, Any]
) -> tuple[dict[str, Any] | None, ActionResult | None]:
    """The command of a command kind, or the failed result when its builder raises or returns no dict."""
    assert entry.command is not None
    try:
        command = entry.command(execution, config)
    except Exception as error:  # the kind's boundary: a bug in a builder fails its execution, not the batch
        logger.exception(
            "action %s failed to build its command for execution %s",
            entry.key,
            execution.pk,
            extra=execution.log_fields,
        )
        return None, ActionResult.failed(f"{type(error).__name__}: {error}")
    if not isinstance(command, dict):
        return None, ActionResult.failed(f"the {entry.key} command builder returned {command!r}, not a dict")
    return command, None
