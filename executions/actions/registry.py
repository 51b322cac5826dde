"""The action handler registry: one entry per action type, each ``(execution, config) -> ActionResult``.

Built-in handlers register themselves with ``@register(ActionType.X)`` when ``executions.actions`` is
imported (from ``ExecutionsConfig.ready()``). ``settings.AUTOMATIONS_ACTION_HANDLERS`` maps an action
type to the dotted path of a callable with the same signature; it adds types or overrides built-ins.

A handler never changes the execution's status: it reports what happened in its ``ActionResult`` and the
pipeline records it. It must be idempotent for one execution and pass ``idempotency_key(execution)``
downstream, because an attempt whose outcome is unknown is retried with the same key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

from automations.validators import Errors
from executions.choices import ActionOutcome

if TYPE_CHECKING:
    from executions.models import AutomationExecution


@dataclass(frozen=True)
class ActionResult:
    """What one attempt of an action did.

    ``outcome`` is succeeded, failed (known not to have taken effect, or refused: never retried) or
    unknown (it may have taken effect: retried with the same idempotency key, after
    ``retry_after_seconds`` when given). ``data`` is stored in the execution's ``action_result``.
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
ConfigValidator = Callable[[dict[str, Any], str], Errors]
CommandBuilder = Callable[["AutomationExecution", dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ActionEntry:
    """One registry entry: the action type, its config validator and its run function.

    ``command``: for a handler that only builds a platform command and hands it to ``deliver_command``,
    the function that builds it; the pipeline then delivers a batch's commands together
    (``executions.services.batches``) instead of calling ``run`` once per execution.
    """

    key: str
    run: ActionHandler
    validator: ConfigValidator | None
    command: CommandBuilder | None = None


class UnknownActionType(LookupError):
    """No handler is registered for an action type."""


_REGISTRY: dict[str, ActionEntry] = {}


def register(
    key: str, validator: ConfigValidator | None = None, command: CommandBuilder | None = None
) -> Callable[[ActionHandler], ActionHandler]:
    """Register the decorated function as the handler of action type ``key``.

    A rule's config is validated by its action kind's spec (``automations.kinds``), not here. ``command``:
    see ``ActionEntry``; the handler must then be exactly ``deliver_command(execution, key, command(...))``.
    """

    def decorator(function: ActionHandler) -> ActionHandler:
        entry = ActionEntry(str(key), function, validator, command)
        _REGISTRY[str(key)] = entry
        return function

    return decorator


@cache
def _import_handler(dotted_path: str) -> ActionHandler:
    return import_string(dotted_path)


def known_action_types() -> list[str]:
    return sorted({*_REGISTRY, *getattr(settings, "AUTOMATIONS_ACTION_HANDLERS", {})})


def get_action_handler(key: str) -> ActionHandler:
    """The handler for action type ``key``: the settings override if any, else the built-in.

    Raises UnknownActionType listing the known types.
    """
    overrides: dict[str, str] = getattr(settings, "AUTOMATIONS_ACTION_HANDLERS", {}) or {}
    if key in overrides:
        return _import_handler(overrides[key])
    entry = _REGISTRY.get(key)
    if entry is None:
        raise UnknownActionType(f'no handler for action type "{key}"; known types: {", ".join(known_action_types())}')
    return entry.run


def get_command_builder(key: str) -> CommandBuilder | None:
    """The built-in command builder of action type ``key``, unless settings override its handler (or none)."""
    overrides: dict[str, str] = getattr(settings, "AUTOMATIONS_ACTION_HANDLERS", {}) or {}
    if key in overrides:
        return None
    entry = _REGISTRY.get(key)
    return entry.command if entry is not None else None


def get_action_entry(key: str) -> ActionEntry:
    """The built-in registry entry for ``key`` (raises UnknownActionType)."""
    entry = _REGISTRY.get(key)
    if entry is None:
        raise UnknownActionType(f'no handler for action type "{key}"; known types: {", ".join(known_action_types())}')
    return entry


def idempotency_key(execution: AutomationExecution) -> str:
    """The key every attempt of an execution's action sends downstream: the same on every retry."""
    return f"automation-execution-{execution.pk}"


def command_envelope(execution: AutomationExecution, command: str, **fields: Any) -> dict[str, Any]:
    """The platform command an action would send: a name, its idempotency key, its target and fields."""
    return {
        "command": command,
        "idempotency_key": idempotency_key(execution),
        "tenant_id": execution.tenant_id,
        "automation_rule_id": execution.automation_rule_id,
        "execution_id": execution.pk,
        **fields,
    }
