"""Issue 19 item 6: docs/patterns.md. Every rule in it is accepted by ``POST /api/automations`` exactly as
written, and the summary sentence shown under it is the one the summaries module renders (and the
summary endpoint answers for the saved rule)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from automations.summaries import summarize_rule
from tests.api import post_json, token_client

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "patterns.md"
JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)
SUMMARY_LINE = re.compile(r"\n\n> Summary: (.+)\n")
GOALS = (
    "Restock alerts",
    "Abandoned carts",
    "Win-back",
    "Launch campaigns",
    "Weekly reports",
    "Approvals for spending",
    "Mistakes to avoid",
)


def documented_rules() -> list[tuple[dict[str, Any], str]]:
    """Each ```json block of the guide with the "> Summary:" line right after it (every block has one)."""
    text = DOCS.read_text()
    rules = []
    for block in JSON_BLOCK.finditer(text):
        summary = SUMMARY_LINE.match(text, block.end())
        assert summary is not None, f"no '> Summary:' line after the rule ending at character {block.end()}"
        rules.append((json.loads(block.group(1)), summary.group(1)))
    return rules


def test_the_guide_has_a_section_per_goal():
    headings = re.findall(r"^## (.+)$", DOCS.read_text(), flags=re.M)
    assert headings == list(GOALS)


def test_every_rule_in_the_guide_is_accepted_as_written_and_summarised_as_shown(owner):
    client = token_client(owner)
    rules = documented_rules()
    assert len(rules) == len(GOALS) - 1  # one rule per goal

    for rule, shown in rules:
        created = post_json(client, "/api/automations", rule)
        assert created.status_code == 201, (rule["name"], created.json())
        assert summarize_rule(rule).summary == shown, rule["name"]
        saved = created.json()["automation"]["id"]
        assert client.get(f"/api/automations/{saved}/summary").json()["summary"] == shown, rule["name"]
