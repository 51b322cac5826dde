"""The tenant's time-saved setting (``minutes_saved_per_action``, docs/analytics.md "Time saved"): checked by
the tenant's ``clean()`` through ``tenant_update``, the one path the admin takes too."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from automations.kinds.actions import DEFAULT_MINUTES_SAVED, minutes_saved_by_action_type
from governance.services import tenant_update

pytestmark = pytest.mark.django_db


def test_an_owner_sets_minutes_per_action_type(tenant, owner):
    updated = tenant_update(tenant, {"minutes_saved_per_action": {"send_notification": 3, "add_product": 12.5}}, owner)
    assert updated.minutes_saved_per_action == {"send_notification": 3, "add_product": 12.5}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"send_sms": 3}, '"send_sms" is not an action type'),
        ({"send_notification": -1}, "from 0 to 1440"),
        ({"send_notification": 5000}, "from 0 to 1440"),
        ({"send_notification": "3"}, "from 0 to 1440"),
        ({"send_notification": True}, "from 0 to 1440"),
        (["send_notification", 3], "Give an object"),
    ],
)
def test_bad_values_are_refused_at_the_field(tenant, owner, value, says):
    with pytest.raises(ValidationError) as refused:
        tenant_update(tenant, {"minutes_saved_per_action": value}, owner)
    assert says in " ".join(refused.value.message_dict["minutes_saved_per_action"])


def test_every_action_kind_has_a_default_and_built_ins_are_not_all_the_same():
    defaults = minutes_saved_by_action_type()
    assert defaults["send_notification"] == 2 and defaults["generate_campaign"] == 30
    assert all(minutes >= 0 for minutes in defaults.values()) and DEFAULT_MINUTES_SAVED == 5
