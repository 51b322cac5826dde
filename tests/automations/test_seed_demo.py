from django.core.management import call_command

from automations.models import AutomationRule
from governance.models import Council, Membership


def test_seed_demo_is_idempotent_and_covers_every_trigger_type(db):
    call_command("seed_demo")
    call_command("seed_demo")
    rules = AutomationRule.objects.filter(tenant_id="tenant_demo")
    assert 5 <= rules.count() <= 10
    assert set(rules.values_list("trigger_type", flat=True)) == {"event", "schedule", "threshold", "behavior"}
    names = set(rules.values_list("name", flat=True))
    assert {"Low Product Alert", "Weekly Campaign Generator"} <= names
    assert set(Membership.objects.filter(tenant_id="tenant_demo").values_list("role", flat=True)) == {
        "owner",
        "council",
    }
    council = Council.objects.get(tenant_id="tenant_demo", is_default=True)
    assert set(council.members.values_list("username", flat=True)) == {"demo_owner", "demo_council"}


def test_the_demo_users_have_email_addresses_so_a_notification_is_emailed(db, mailoutbox):
    from django.contrib.auth import get_user_model

    from executions.services import execute_rule_manually

    call_command("seed_demo")
    users = get_user_model().objects.filter(username__in=["demo_owner", "demo_council"])
    assert {u.username: u.email for u in users} == {
        "demo_owner": "demo_owner@example.com",
        "demo_council": "demo_council@example.com",
    }
    alert = AutomationRule.objects.get(tenant_id="tenant_demo", name="Store Health Alert")
    owner = users.get(username="demo_owner")
    execution = execute_rule_manually(alert, {"store_status": "maintenance"}, owner)
    assert execution.outcome == "succeeded"
    assert [m.to for m in mailoutbox] == [["demo_owner@example.com"]]
    assert execution.action_result["channel_results"] == [
        {"channel": "email", "user_id": owner.pk, "status": "sent", "detail": "demo_owner@example.com"}
    ]
