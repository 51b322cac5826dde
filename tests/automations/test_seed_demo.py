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
