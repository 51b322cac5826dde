"""The auto-approval decision table (docs/governance.md), one test per row and rule."""

import pytest

from governance.decisions import KnownFacts, decide_auto_approval

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

ALL_HOLD = KnownFacts(budget_value=50, trusted=True, in_business_hours=True, executions_today_count=0)
EVERY_RULE = {"max_budget": 100, "trusted_users_only": True, "business_hours_only": True, "max_frequency_per_day": 5}


@pytest.mark.parametrize("rules", [{}, EVERY_RULE])
@pytest.mark.parametrize("requires_approval", [False, True])
def test_critical_is_never_auto_approved(rules, requires_approval):
    decision = decide_auto_approval("critical", requires_approval, rules, ALL_HOLD)
    assert decision.auto_approved is False
    assert "critical" in decision.reason


@pytest.mark.parametrize(("risk", "requires_approval"), [("high", False), ("low", True), ("medium", True)])
def test_high_or_requires_approval_needs_rules(risk, requires_approval):
    assert decide_auto_approval(risk, requires_approval, {}, ALL_HOLD).auto_approved is False
    assert decide_auto_approval(risk, requires_approval, None, ALL_HOLD).auto_approved is False


@pytest.mark.parametrize(("risk", "requires_approval"), [("high", False), ("high", True), ("low", True)])
def test_high_or_requires_approval_with_all_rules_holding_is_auto_approved(risk, requires_approval):
    decision = decide_auto_approval(risk, requires_approval, EVERY_RULE, ALL_HOLD)
    assert decision.auto_approved is True
    assert [check.rule for check in decision.checks] == list(EVERY_RULE)


def test_high_with_one_failing_rule_is_not_auto_approved():
    facts = KnownFacts(budget_value=500, trusted=True, in_business_hours=True)
    decision = decide_auto_approval("high", False, EVERY_RULE, facts)
    assert decision.auto_approved is False
    assert decision.reason == "budget 500 is over the limit of 100"


@pytest.mark.parametrize("risk", ["low", "medium"])
def test_low_and_medium_are_auto_approved_without_rules(risk):
    decision = decide_auto_approval(risk, False, {}, KnownFacts())
    assert decision.auto_approved is True
    assert decision.checks == []


@pytest.mark.parametrize(
    ("rules", "facts", "expected_reason"),
    [
        ({"max_budget": 100}, KnownFacts(budget_value=101), "budget 101 is over the limit of 100"),
        ({"max_budget": 100}, KnownFacts(), "the budget is unknown, so the limit of 100 can't be checked"),
        ({"trusted_users_only": True}, KnownFacts(trusted=False), "not triggered by a trusted user"),
        ({"business_hours_only": True}, KnownFacts(in_business_hours=False), "outside business hours"),
        (
            {"max_frequency_per_day": 2},
            KnownFacts(executions_today_count=2),
            "2 of at most 2 executions already ran today",
        ),
    ],
)
@pytest.mark.parametrize("risk", ["low", "medium"])
def test_low_and_medium_refused_when_a_rule_fails(risk, rules, facts, expected_reason):
    decision = decide_auto_approval(risk, False, rules, facts)
    assert decision.auto_approved is False
    assert decision.reason == expected_reason


@pytest.mark.parametrize(
    ("rules", "facts"),
    [
        ({"max_budget": 100}, KnownFacts(budget_value=100)),
        ({"trusted_users_only": True}, KnownFacts(trusted=True)),
        ({"business_hours_only": True}, KnownFacts(in_business_hours=True)),
        ({"max_frequency_per_day": 2}, KnownFacts(executions_today_count=1)),
        (
            {"trusted_users_only": False, "business_hours_only": False},
            KnownFacts(trusted=False, in_business_hours=False),
        ),
    ],
)
def test_low_auto_approved_when_rules_hold(rules, facts):
    assert decide_auto_approval("low", False, rules, facts).auto_approved is True


def test_false_flags_are_not_rules_so_a_high_risk_rule_still_needs_approval():
    decision = decide_auto_approval("high", False, {"trusted_users_only": False}, ALL_HOLD)
    assert decision.auto_approved is False


def test_facts_are_only_asked_for_when_a_rule_needs_them():
    class ExplodingFacts:
        def budget(self):
            raise AssertionError("budget not needed")

        def user_is_trusted(self):
            raise AssertionError("trust not needed")

        def within_business_hours(self):
            raise AssertionError("hours not needed")

        def executions_today(self):
            return 0

    assert decide_auto_approval("low", False, {"max_frequency_per_day": 1}, ExplodingFacts()).auto_approved


def test_decision_serialises_with_reasons():
    decision = decide_auto_approval("high", False, {"max_budget": 10}, KnownFacts(budget_value=5))
    assert decision.as_dict() == {
        "auto_approved": True,
        "reason": "every auto-approval rule holds for this high-risk rule",
        "checks": [{"rule": "max_budget", "passed": True, "reason": "budget 5 is within the limit of 10"}],
    }
