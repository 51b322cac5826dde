"""No JSON input makes a validator raise: bad input always comes back as path-keyed errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.validators import validate_rule_definition
from tests.factories import LOW_PRODUCT_ALERT

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
RULE_KEYS = [*LOW_PRODUCT_ALERT, "trigger_type", "auto_approval_rules", "enabled", "requires_approval"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(RULE_KEYS), json_values))
def test_arbitrary_rule_bodies_never_raise(body):
    errors = validate_rule_definition(body)
    assert all(isinstance(path, str) and messages for path, messages in errors.items())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(LOW_PRODUCT_ALERT)), json_values)
def test_one_corrupted_field_of_a_valid_rule_never_raises(key, value):
    body = {**LOW_PRODUCT_ALERT, key: value}
    errors = validate_rule_definition(body)
    assert all(isinstance(path, str) for path in errors)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["event", "schedule", "threshold", "behavior"]),
    st.dictionaries(
        st.sampled_from(["event_type", "pattern", "time", "day", "metric", "operator", "value", "behavior_type"]),
        json_values,
    ),
)
def test_arbitrary_trigger_configs_never_raise(trigger_type, config):
    validate_rule_definition({**LOW_PRODUCT_ALERT, "trigger_type": trigger_type, "trigger_config": config})
