"""The action in words: a clause for the summary sentence and a short description, per action type.

Each ``describe_<type>`` is the ``describe`` of its ``ActionKind`` (automations.builtin_kinds.actions).
"""

from __future__ import annotations

from typing import Any

from automations.choices import CampaignChannel, NotificationChannel, NotificationRecipient
from automations.kinds.actions import ActionText, get_action_kind
from automations.summaries.conditions import value_words
from automations.summaries.text import (
    format_datetime,
    is_number,
    join_words,
    name_or_quote,
    parse_datetime,
    quote,
)
from governance.common.words import format_number

MAX_LISTED_FIELDS = 4
MAX_LISTED_INPUTS = 5


NO_ACTION = ActionText(clause="", description="No action chosen yet")

RECIPIENTS: dict[str, tuple[str, str]] = {
    NotificationRecipient.OWNER: ("the owner", "owner"),
    NotificationRecipient.COLLABORATORS: ("the collaborators", "collaborators"),
    NotificationRecipient.COUNCILS: ("the councils", "councils"),
}
NOTIFICATION_CHANNELS: dict[str, str] = {
    NotificationChannel.EMAIL: "email",
    NotificationChannel.PUSH: "push",
    NotificationChannel.SMS: "SMS",
}
CAMPAIGN_CHANNELS: dict[str, str] = {
    CampaignChannel.EMAIL: "email",
    CampaignChannel.SOCIAL: "social media",
    CampaignChannel.ADS: "ads",
    CampaignChannel.SMS: "SMS",
}


def _text(config: dict[str, Any], key: str) -> str | None:
    value = config.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _known(values: object, names: dict[str, Any]) -> list[Any]:
    """The known entries of a list in their canonical order, each once."""
    if not isinstance(values, list):
        return []
    present = {value for value in values if isinstance(value, str)}
    return [names[key] for key in names if key in present]


def _template(config: dict[str, Any]) -> str:
    template = _text(config, "template_id")
    return f"the {name_or_quote(template)} template" if template else ""


def _budget(config: dict[str, Any]) -> str:
    budget = config.get("budget")
    return f", with a budget of {format_number(budget)}" if is_number(budget) else ""


def _field_values(fields: object) -> list[str]:
    """``{"price": 9.99, "status": "draft"}`` -> ``["price to 9.99", "status to draft"]``."""
    if not isinstance(fields, dict):
        return []
    items = []
    for key, value in fields.items():
        name = name_or_quote(key) if isinstance(key, str) and key else "a field"
        if isinstance(value, dict | list):
            items.append(f"{name} to new values")
        else:
            items.append(f"{name} to {value_words(value)}")
    if len(items) > MAX_LISTED_FIELDS:
        hidden = len(items) - MAX_LISTED_FIELDS
        items = [*items[:MAX_LISTED_FIELDS], f"{hidden} other {'field' if hidden == 1 else 'fields'}"]
    return items


def _field_names(fields: object) -> str:
    if not isinstance(fields, dict) or not fields:
        return ""
    names = [name_or_quote(key) if isinstance(key, str) and key else "a field" for key in fields]
    if len(names) > MAX_LISTED_FIELDS:
        hidden = len(names) - MAX_LISTED_FIELDS
        names = [*names[:MAX_LISTED_FIELDS], f"{hidden} other {'field' if hidden == 1 else 'fields'}"]
    return join_words(names)


def _inputs(config: dict[str, Any]) -> str:
    """`` and the domain input`` / `` and 7 inputs``; nothing for no inputs."""
    inputs = config.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        return ""
    keys = [key for key in inputs if isinstance(key, str) and key]
    if len(keys) == len(inputs) and len(keys) <= MAX_LISTED_INPUTS:
        names = join_words([name_or_quote(key) for key in keys])
        return f"the {names} {'input' if len(keys) == 1 else 'inputs'}"
    return f"{len(inputs)} {'input' if len(inputs) == 1 else 'inputs'}"


def _workflow(config: dict[str, Any]) -> str:
    workflow = _text(config, "workflow_type_id")
    return f"the {name_or_quote(workflow)} workflow" if workflow else "a workflow"


# --- one describer per action type -----------------------------------------------------------


def describe_send_notification(config: dict[str, Any]) -> ActionText:
    recipients = _known(config.get("recipients"), RECIPIENTS)
    channels = _known(config.get("channels"), NOTIFICATION_CHANNELS)
    to_clause = f" to {join_words([summary for summary, _ in recipients])}" if recipients else ""
    to_description = f" to {join_words([short for _, short in recipients])}" if recipients else ""
    by = f" by {join_words(channels)}" if channels else ""
    subject = _text(config, "subject")
    message = _text(config, "message")
    clause = f"send a notification{to_clause}{by}"
    if subject:
        clause += f" with the subject {quote(subject)}"
    if message:
        clause += f" saying {quote(message)}"
    budget = _budget(config)
    return ActionText(clause + budget, f"Send notification{to_description}{by}{budget}")


def describe_start_workflow(config: dict[str, Any]) -> ActionText:
    workflow = _workflow(config)
    extras = [part for part in (_template(config), _inputs(config)) if part]
    clause = f"start {workflow}" + (f" with {join_words(extras)}" if extras else "")
    budget = _budget(config)
    short = workflow[4:] if workflow.startswith("the ") else "workflow"
    return ActionText(clause + budget, f"Start {short}{budget}")


def describe_update_product(config: dict[str, Any]) -> ActionText:
    product_id = _text(config, "product_id")
    product = f"product {quote(product_id)}" if product_id else "the product"
    changes = _field_values(config.get("updates"))
    clause = f"update {product}" + (f", setting {join_words(changes)}" if changes else "")
    names = _field_names(config.get("updates"))
    short = f"product {quote(product_id)}" if product_id else "product"
    budget = _budget(config)
    return ActionText(clause + budget, f"Update {short}" + (f" ({names})" if names else "") + budget)


def describe_generate_campaign(config: dict[str, Any]) -> ActionText:
    template = _template(config)
    channels = _known(config.get("channels"), CAMPAIGN_CHANNELS)
    clause = "generate a campaign"
    if template:
        clause += f" from {template}"
    if channels:
        clause += f" for {join_words(channels)}"
    schedule = config.get("schedule")
    if schedule == "immediate":
        clause += ", sent immediately"
    else:
        moment = parse_datetime(schedule)
        if moment is not None:
            clause += f", scheduled for {format_datetime(moment)}"
    budget = _budget(config)
    short = "Generate campaign" + (f" from {template[4:]}" if template else "")
    return ActionText(clause + budget, short + budget)


def describe_create_landing_page(config: dict[str, Any]) -> ActionText:
    title = _text(config, "title")
    template = _template(config)
    slug = _text(config, "slug")
    page = f"a landing page {quote(title)}" if title else "a landing page"
    clause = f"create {page}"
    if template:
        clause += f" from {template}"
    if slug:
        clause += f" at /{slug}"
    publish = config.get("publish")
    if publish is True:
        clause += " and publish it"
    elif publish is False:
        clause += " as an unpublished draft"
    budget = _budget(config)
    if title:
        short = f"Create landing page {quote(title)}"
    else:
        short = "Create landing page" + (f" from {template[4:]}" if template else "")
    return ActionText(clause + budget, short + budget)


def describe_add_product(config: dict[str, Any]) -> ActionText:
    count = config.get("count")
    many = count if isinstance(count, int) and not isinstance(count, bool) and count > 1 else None
    what = f"{format_number(many)} products" if many else "a product"
    template = _template(config)
    category = _text(config, "category")
    clause = f"add {what}"
    if template:
        clause += f" from {template}"
    if category:
        clause += f" to the {name_or_quote(category)} category"
    budget = _budget(config)
    short = f"Add {format_number(many)} products" if many else "Add a product"
    if template:
        short += f" from {template[4:]}"
    return ActionText(clause + budget, short + budget)


def describe_update_store(config: dict[str, Any]) -> ActionText:
    changes = _field_values(config.get("settings"))
    clause = "update the store" + (f", setting {join_words(changes)}" if changes else "")
    names = _field_names(config.get("settings"))
    budget = _budget(config)
    return ActionText(clause + budget, "Update store settings" + (f" ({names})" if names else "") + budget)


def describe_generate_draft(config: dict[str, Any]) -> ActionText:
    title = _text(config, "title")
    workflow = _workflow(config)
    extras = [part for part in (_template(config), _inputs(config)) if part]
    draft = f"a draft {quote(title)}" if title else "a draft"
    clause = f"generate {draft} with {workflow}"
    if extras:
        clause += f" using {join_words(extras)}"
    budget = _budget(config)
    short = "Generate draft" + (f" {quote(title)}" if title else "") + f" with {workflow.removeprefix('the ')}"
    return ActionText(clause + budget, short + budget)


def describe_action(action_type: object, config: object) -> ActionText:
    """The action in words; a partial config gives the best phrase it can, never an error."""
    kind = get_action_kind(action_type)
    if kind is None:
        return NO_ACTION
    return kind.describe(config if isinstance(config, dict) else {})
