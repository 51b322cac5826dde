"""The built-in action kinds: one ``ActionKind`` each (keys and labels are ``ActionType``'s).

Registered by ``AutomationsConfig.ready()``. Each spec names its config validator
(``automations.validators``), its summary words (``automations.summaries.actions``) and its builder
fields; its command builder is ``executions/actions/<key>.py``.
"""

from __future__ import annotations

from automations import validators as checks
from automations.choices import ActionType, CampaignChannel, NotificationChannel, NotificationRecipient
from automations.kinds.actions import ActionKind, register_action_kind
from automations.kinds.fields import FieldSpec
from automations.summaries import actions as words

_TEMPLATE = FieldSpec("template_id", "Template", "text", help="such as seasonal_promo")
_WORKFLOW = FieldSpec("workflow_type_id", "Workflow Type", "text", help="such as website_creation")
_INPUTS = FieldSpec("inputs", "Inputs (JSON object)", "json", help='such as {"domain": "example.com"}')


def _kind(key: ActionType, *fields: FieldSpec, minutes_saved: float) -> ActionKind:
    name = key.value
    return ActionKind(
        key=name,
        label=key.label,
        fields=fields,
        validate=getattr(checks, f"validate_{name}"),
        describe=getattr(words, f"describe_{name}"),
        minutes_saved=minutes_saved,
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
