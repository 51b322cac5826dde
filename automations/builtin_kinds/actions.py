"""The built-in action kinds: one ``ActionKind`` each (keys and labels are ``ActionType``'s).

Registered by ``AutomationsConfig.ready()``. Each spec names its config validator
(``automations.validators``), its summary words (``automations.summaries.actions``) and its builder
fields; its command builder is ``executions/actions/<key>.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automations import validators as checks
from automations.choices import ActionType, CampaignChannel, NotificationChannel, NotificationRecipient
from automations.kinds.actions import ActionKind, register_action_kind
from automations.kinds.fields import FieldSpec
from automations.summaries import actions as words

_TEMPLATE = FieldSpec("template_id", "Template", "text", help="such as seasonal_promo")
_WORKFLOW = FieldSpec("workflow_type_id", "Workflow Type", "text", help="such as website_creation")
_INPUTS = FieldSpec("inputs", "Inputs (JSON object)", "json", help='such as {"domain": "example.com"}')


# Which built-in action reaches the rule's customer, on which channel: the one table the contact policy
# reads (docs/contact-pressure.md, "Channels"). Every customer-facing action also counts on "any".
_CUSTOMER_CHANNELS = frozenset({"email", "sms", "push"})


def _listed_channels(config: dict[str, Any]) -> frozenset[str]:
    """send_notification and generate_campaign: the email, sms and push entries of ``channels``, and any."""
    listed = config.get("channels")
    named = {value for value in listed if isinstance(value, str)} if isinstance(listed, list) else set()
    return frozenset({*(named & _CUSTOMER_CHANNELS), "any"})


def _any_channel(config: dict[str, Any]) -> frozenset[str]:
    """start_workflow: a workflow started for the customer (a follow-up sequence) reaches them somehow."""
    return frozenset({"any"})


CONTACT_CHANNELS_BY_ACTION: dict[str, Callable[[dict[str, Any]], frozenset[str]]] = {
    ActionType.START_WORKFLOW: _any_channel,
    ActionType.SEND_NOTIFICATION: _listed_channels,
    ActionType.GENERATE_CAMPAIGN: _listed_channels,
    # update_product, create_landing_page, add_product, update_store, generate_draft change the shop, not
    # the customer's inbox: never capped.
}


def _kind(key: ActionType, *fields: FieldSpec, minutes_saved: float) -> ActionKind:
    name = key.value
    return ActionKind(
        key=name,
        label=key.label,
        fields=fields,
        validate=getattr(checks, f"validate_{name}"),
        describe=getattr(words, f"describe_{name}"),
        minutes_saved=minutes_saved,
        contact_channels=CONTACT_CHANNELS_BY_ACTION.get(key),
    )


# Each kind's minutes_saved: what the same task takes a person by hand in a shop's back office, the
# dashboard's default "time saved" per successful run (docs/analytics.md); a tenant sets its own.
BUILTIN_ACTIONS: tuple[ActionKind, ...] = (
    _kind(ActionType.START_WORKFLOW, _WORKFLOW, _TEMPLATE, _INPUTS, minutes_saved=15),
    _kind(
        ActionType.SEND_NOTIFICATION,
        *(
            FieldSpec("recipients", "Recipients", "multi", tuple(NotificationRecipient.choices)),
            FieldSpec("subject", "Subject"),
            FieldSpec("message", "Message", "textarea"),
            FieldSpec("channels", "Channels", "multi", tuple(NotificationChannel.choices), "in-app is always sent"),
        ),
        minutes_saved=2,
    ),
    _kind(
        ActionType.UPDATE_PRODUCT,
        *(
            FieldSpec("product_id", "Product ID", "text", help="empty: the product of the triggering event"),
            FieldSpec("updates", "Updates (JSON object)", "json", help='such as {"price": 9.99}'),
        ),
        minutes_saved=5,
    ),
    _kind(
        ActionType.GENERATE_CAMPAIGN,
        *(
            _TEMPLATE,
            FieldSpec("channels", "Channels", "multi", tuple(CampaignChannel.choices)),
            FieldSpec("schedule", "Schedule", "text", help='"immediate" or a date-time such as 2026-12-01T09:00:00Z'),
        ),
        minutes_saved=30,
    ),
    _kind(
        ActionType.CREATE_LANDING_PAGE,
        *(
            _TEMPLATE,
            FieldSpec("title", "Title"),
            FieldSpec("slug", "Slug", "text", help="such as holiday-sale"),
            FieldSpec("publish", "Publish immediately", "bool"),
        ),
        minutes_saved=30,
    ),
    _kind(
        ActionType.ADD_PRODUCT,
        *(
            _TEMPLATE,
            FieldSpec("count", "Count", "int", help="1 to 100"),
            FieldSpec("category", "Product category"),
        ),
        minutes_saved=10,
    ),
    _kind(
        ActionType.UPDATE_STORE,
        FieldSpec("settings", "Settings (JSON object)", "json", help='such as {"banner": "Sale!"}'),
        minutes_saved=5,
    ),
    _kind(
        ActionType.GENERATE_DRAFT,
        *(_WORKFLOW, _TEMPLATE, FieldSpec("title", "Title"), _INPUTS),
        minutes_saved=20,
    ),
)


def register_builtin_actions() -> None:
    for kind in BUILTIN_ACTIONS:
        register_action_kind(kind)
