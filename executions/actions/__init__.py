"""Action handlers, one module per action type, and their registry (see ``registry``)."""

from executions.actions import (  # noqa: F401  (importing registers the built-ins)
    add_product,
    create_landing_page,
    generate_campaign,
    generate_draft,
    send_notification,
    start_workflow,
    update_product,
    update_store,
)
from executions.actions.registry import (
    ActionEntry,
    ActionHandler,
    ActionResult,
    CommandBuilder,
    Deliver,
    InProcessRun,
    UnknownActionType,
    build_command,
    command_envelope,
    get_action_entry,
    idempotency_key,
    known_action_types,
    register_command,
    register_run,
)

__all__ = [
    "ActionEntry",
    "ActionHandler",
    "ActionResult",
    "CommandBuilder",
    "Deliver",
    "InProcessRun",
    "UnknownActionType",
    "build_command",
    "command_envelope",
    "get_action_entry",
    "idempotency_key",
    "known_action_types",
    "register_command",
    "register_run",
]
