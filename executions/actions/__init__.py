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
    UnknownActionType,
    command_envelope,
    get_action_entry,
    get_action_handler,
    get_command_builder,
    idempotency_key,
    known_action_types,
    register,
)

__all__ = [
    "ActionEntry",
    "ActionHandler",
    "ActionResult",
    "UnknownActionType",
    "command_envelope",
    "get_action_entry",
    "get_action_handler",
    "get_command_builder",
    "idempotency_key",
    "known_action_types",
    "register",
]
