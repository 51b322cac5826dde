"""The action handler registry and the eight built-in handlers."""

from __future__ import annotations

import pytest

from automations.choices import ActionType
from automations.kinds.actions import get_action_kind
from executions.actions import (
    ActionResult,
    UnknownActionType,
    get_action_entry,
    idempotency_key,
)
from executions.choices import ActionOutcome, TriggerSource
from executions.models import AutomationExecution
from executions.pipeline import get_action_handler
from tests.factories import make_rule
from tests.overrides import override_automations

CONFIGS = {
    "start_workflow": (
        {"workflow_type_id": "website_creation", "template_id": "basic_site", "inputs": {"d": 1}},
        "workflow.start",
    ),
    "send_notification": (
        {"recipients": ["owner"], "message": "Low stock", "channels": ["email", "push"]},
        "notification.send",
    ),
    "update_product": ({"updates": {"price": 10}}, "product.update"),
    "generate_campaign": ({"template_id": "seasonal_promo", "channels": ["email", "social"]}, "campaign.generate"),
    "create_landing_page": ({"template_id": "sale", "title": "Sale", "slug": "sale"}, "landing_page.create"),
    "add_product": ({"template_id": "holiday_product", "count": 5, "category": "seasonal"}, "product.add"),
    "update_store": ({"settings": {"banner": "on"}}, "store.update"),
    "generate_draft": ({"workflow_type_id": "blog_post", "title": "Draft"}, "workflow_draft.generate"),
}


def execution_for(tenant, action_type, config, trigger_data=None):
    rule = make_rule(tenant, action_type=action_type, action_config=config)
    return AutomationExecution.objects.create(
        automation_rule=rule, tenant=tenant, trigger_source=TriggerSource.MANUAL, trigger_data=trigger_data or {}
    )


def test_every_action_type_declares_exactly_one_way_to_run():
    for action_type in ActionType.values:
        entry = get_action_entry(action_type)
        assert (entry.command is None) != (entry.run is None), action_type
        assert get_action_kind(action_type) is not None  # the automations half: validation, builder, words
        assert get_action_handler(action_type).__name__ == f"action_{action_type}"
    assert get_action_entry("send_notification").run is not None  # the in-process kind
    assert get_action_entry("add_product").command is not None


def test_an_action_kind_declaring_both_or_neither_is_refused():
    from executions.actions import ActionEntry

    with pytest.raises(ValueError, match="exactly one"):
        ActionEntry("both", command=lambda execution, config: {}, run=lambda execution, config, deliver: None)
    with pytest.raises(ValueError, match="exactly one"):
        ActionEntry("neither")


@pytest.mark.django_db
@pytest.mark.parametrize("action_type", sorted(CONFIGS))
def test_each_handler_records_its_own_command(tenant, action_type):
    config, command_name = CONFIGS[action_type]
    execution = execution_for(tenant, action_type, config, {"product_id": "prod_9"})

    result = get_action_handler(action_type)(execution, config)

    # no endpoint and (for send_notification) no recipient in the tenant: nothing received it
    assert isinstance(result, ActionResult) and result.outcome == ActionOutcome.RECORDED
    assert result.data["delivery"] == "not_delivered"
    assert result.data["reason"] == (
        f"No enabled webhook endpoint receives {action_type} commands: the command was only recorded."
    )
    command = result.data["command"]
    assert command["command"] == command_name
    assert command["idempotency_key"] == idempotency_key(execution) == f"automation-execution-{execution.pk}"
    assert (command["tenant_id"], command["execution_id"]) == (tenant.pk, execution.pk)
    fields = set(command) - {"command", "idempotency_key", "tenant_id", "automation_rule_id", "execution_id"}
    assert fields, "each command carries its own fields"


@pytest.mark.django_db
def test_a_notification_says_per_channel_and_recipient_what_was_not_sent(tenant, owner, collaborator, mailoutbox):

    owner.email = "alice@shop.test"
    owner.save()
    config = {"recipients": ["owner", "collaborators"], "message": "Low stock", "channels": ["email", "sms"]}
    execution = execution_for(tenant, "send_notification", config)

    result = get_action_handler("send_notification")(execution, config)

    # the in-app notifications happened: a success, although no endpoint receives the command
    assert result.outcome == ActionOutcome.SUCCEEDED and result.data["delivery"] == "not_delivered"
    sent = {(r["user_id"], r["channel"]): (r["status"], r["detail"]) for r in result.data["channel_results"]}
    assert sent[(owner.pk, "email")] == ("sent", "alice@shop.test")
    assert sent[(collaborator.pk, "email")] == ("no_address", "The user has no email address.")
    assert sent[(owner.pk, "sms")][0] == sent[(collaborator.pk, "sms")][0] == "not_configured"
    assert len(sent) == 4 and result.data["channels_not_sent"] == 3
    assert [message.to for message in mailoutbox] == [["alice@shop.test"]]


@pytest.mark.django_db
def test_commands_carry_what_their_action_needs(tenant):
    add = get_action_handler("add_product")(
        execution_for(tenant, "add_product", CONFIGS["add_product"][0]), CONFIGS["add_product"][0]
    )
    assert {k: add.data["command"][k] for k in ("template_id", "count", "category")} == {
        "template_id": "holiday_product",
        "count": 5,
        "category": "seasonal",
    }
    config = CONFIGS["start_workflow"][0]
    start = get_action_handler("start_workflow")(execution_for(tenant, "start_workflow", config), config)
    assert {k: start.data["command"][k] for k in ("workflow_type_id", "template_id", "inputs")} == {
        "workflow_type_id": "website_creation",
        "template_id": "basic_site",
        "inputs": {"d": 1},
    }
    config = CONFIGS["update_product"][0]
    update = get_action_handler("update_product")(
        execution_for(tenant, "update_product", config, {"product_id": "prod_9"}), config
    )
    assert update.data["command"]["product_id"] == "prod_9"  # from the trigger when the config names none


def test_an_unknown_action_type_lists_the_known_ones():
    with pytest.raises(UnknownActionType) as error:
        get_action_handler("launch_rocket")
    assert "launch_rocket" in str(error.value) and "add_product" in str(error.value)


def custom_handler(execution, config, deliver):
    return ActionResult.succeeded(custom=True)


@override_automations(ACTION_HANDLERS={"add_product": "tests.executions.test_actions.custom_handler"})
def test_settings_override_a_built_in_handler():
    assert get_action_entry("add_product").run is custom_handler
    assert get_action_entry("add_product").command is None


@override_automations(ACTION_HANDLERS={"launch_rocket": "tests.executions.test_actions.custom_handler"})
def test_settings_add_an_action_type():
    assert get_action_entry("launch_rocket").run is custom_handler


def test_an_action_result_as_stored():
    assert ActionResult.unknown("timeout", retry_after_seconds=5, sent=1).as_dict() == {
        "outcome": "unknown",
        "sent": 1,
        "error": "timeout",
    }
