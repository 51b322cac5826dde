"""The summary's governance clause says what the decision table decides (docs/summaries.md, "Governance").

The docs' example table is read and each row checked; then every combination of risk level,
``requires_approval``, auto-approval rules and budget is checked against ``decide_auto_approval`` for
every set of run-time facts: what the summary promises is what a run gets.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from automations.choices import RiskLevel
from automations.summaries import summarize_rule
from automations.validators import validate_rule_definition
from governance.decisions import KnownFacts, decide_auto_approval
from tests.factories import LOW_PRODUCT_ALERT

DOC = Path(settings.BASE_DIR) / "docs" / "summaries.md"
BASE = {**LOW_PRODUCT_ALERT, "conditions": []}


def doc_examples() -> list[tuple[str, bool, dict[str, Any], float | None, str, str]]:
    text = DOC.read_text()
    table = text.split("<!-- governance-examples -->")[1].split("<!-- /governance-examples -->")[0]
    rows = [line for line in table.strip().splitlines() if line.startswith("|")][2:]  # header, rule
    examples = []
    for line in rows:
        risk, requires, rules, budget, ends, description = (cell.strip() for cell in line.strip("|").split("|"))
        examples.append(
            (
                risk,
                json.loads(requires),
                json.loads(rules.strip("`")),
                float(budget) if budget else None,
                ends.strip("`"),
                description,
            )
        )
    return examples


def body(risk: str, requires: bool, rules: dict[str, Any], budget: float | None) -> dict[str, Any]:
    config = dict(BASE["action_config"])
    if budget is not None:
        config["budget"] = int(budget) if float(budget).is_integer() else budget
    return {
        **BASE,
        "risk_level": risk,
        "requires_approval": requires,
        "auto_approval_rules": rules,
        "action_config": config,
    }


def test_the_docs_have_examples_of_every_answer():
    examples = doc_examples()
    assert len(examples) >= 10
    descriptions = [example[5] for example in examples]
    assert any(d == "Runs without approval" for d in descriptions)
    assert any(d.startswith("Runs without approval while") for d in descriptions)
    assert any(d.startswith("Always needs approval") for d in descriptions)
    assert {example[0] for example in examples} == set(RiskLevel.values)


@pytest.mark.parametrize(
    ("risk", "requires", "rules", "budget", "ends", "description"),
    doc_examples(),
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else None,
)
def test_docs_example(risk, requires, rules, budget, ends, description):
    rule = body(risk, requires, rules, budget)
    assert validate_rule_definition(rule) == {}, "the docs' examples are valid rules"
    summary = summarize_rule(rule)
    assert summary.summary.endswith(ends)
    assert summary.governance_description == description


# --- every combination against the decision table -------------------------------------------------

RULE_OPTIONS: dict[str, list[Any]] = {
    "max_budget": [None, 100],
    "trusted_users_only": [None, False, True],
    "business_hours_only": [None, False, True],
    "max_frequency_per_day": [None, 1, 3],
}
RUN_TIME_FACTS = [
    {"trusted": trusted, "in_business_hours": hours, "executions_today_count": count}
    for trusted, hours, count in itertools.product([False, True], [False, True], [0, 1, 2, 5])
]


def combinations() -> list[tuple[str, bool, dict[str, Any], float | None]]:
    rule_sets = [
        {key: value for key, value in zip(RULE_OPTIONS, values, strict=True) if value is not None}
        for values in itertools.product(*RULE_OPTIONS.values())
    ]
    return [
        (risk, requires, rules, budget)
        for risk in RiskLevel.values
        for requires in (False, True)
        for rules in rule_sets
        for budget in (None, 50, 250)
    ]


def promised(summary_description: str, facts: dict[str, Any]) -> bool:
    """Whether the summary says a run with ``facts`` goes ahead without the council."""
    if summary_description == "Runs without approval":
        return True
    if summary_description.startswith("Always needs approval"):
        return False
    match = re.fullmatch(
        r"Runs without approval while (.+); otherwise needs approval by the council", summary_description
    )
    assert match, summary_description
    holds = {
        "a trusted user triggers it": facts["trusted"],
        "it runs in business hours": facts["in_business_hours"],
        "it has not run yet today": facts["executions_today_count"] < 1,
        "it has run fewer than 3 times today": facts["executions_today_count"] < 3,
    }
    phrases = re.split(r", | and ", match.group(1))
    assert set(phrases) <= set(holds), phrases
    return all(holds[phrase] for phrase in phrases)


def test_every_combination_is_summarised_as_the_table_decides():
    checked = 0
    for risk, requires, rules, budget in combinations():
        rule = body(risk, requires, rules, budget)
        summary = summarize_rule(rule)
        clause_says_approval = "after approval by the council" in summary.summary
        for facts in RUN_TIME_FACTS:
            decision = decide_auto_approval(risk, requires, rules, KnownFacts(budget_value=budget, **facts))
            assert promised(summary.governance_description, facts) is decision.auto_approved, (rule, facts)
            if not decision.auto_approved:
                # a run that can wait for the council is never summarised without saying so
                assert clause_says_approval, (rule, summary.summary)
            checked += 1
        if summary.governance_description == "Runs without approval":
            assert not clause_says_approval
    assert checked == len(RiskLevel.values) * 2 * 54 * 3 * len(RUN_TIME_FACTS)  # 54 rule sets


@pytest.mark.django_db
def test_starter_product_restock_reads_as_its_runs_are_decided(tenant, owner):
    """The issue's case: the recommendation's summary and two runs of it on one day."""
    from automations.recommendations.catalogue import CATALOGUE
    from executions.pipeline import execute_rule_manually
    from tests.factories import make_rule

    [template] = [template for template in CATALOGUE if template.name == "Starter Product Restock"]
    rule = make_rule(tenant, owner, **template.suggested_config)
    summary = summarize_rule(rule)
    assert summary.summary.endswith(
        ", without approval while it has not run yet today (otherwise after approval by the council)."
    )
    context = {"product_count": 2, "store_status": "active"}
    first = execute_rule_manually(rule, context, owner)
    assert first.governance_decision["auto_approved"] is True and first.required_approval is False
    second = execute_rule_manually(rule, context, owner)
    assert second.status == "awaiting_approval"
    assert second.governance_decision["reason"] == "1 of at most 1 executions already ran today"
