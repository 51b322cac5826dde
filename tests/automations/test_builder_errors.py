"""The builder names fields by their labels, in plain sentences; the API keeps the paths (issue 15, item 4)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from automations.builder_errors import RULE_FIELD_LABELS, error_label, field_errors_in_words, plain_message
from tests.api import token_client
from tests.automations.test_views import VALID_POST


@pytest.mark.parametrize(
    ("path", "trigger_type", "action_type", "label"),
    [
        ("name", "", "", "Name"),
        ("trigger_config.time", "schedule", "", "Time"),
        ("trigger_config.timezone", "schedule", "", "Timezone"),
        ("trigger_config.metric", "threshold", "", "Metric"),
        ("trigger_config.made_up", "threshold", "", "Made up"),
        ("action_config.template_id", "", "generate_campaign", "Template"),
        ("action_config.recipients[0]", "", "send_notification", "Recipients (item 1)"),
        ("action_config.budget", "", "send_notification", "Budget"),
        ("conditions[1].operator", "", "", "Condition 2 operator"),
        ("conditions[0]", "", "", "Condition 1"),
        ("conditions[0].all[1].value", "", "", "Condition 1 (all, item 2, value)"),
        ("auto_approval_rules.max_frequency_per_day", "", "", "Max runs per day"),
        ("", "", "", ""),
    ],
)
def test_error_label(path, trigger_type, action_type, label):
    assert error_label(path, trigger_type, action_type) == label


def test_messages_become_sentences():
    assert plain_message("this field is required") == "This field is required."
    assert plain_message("must be at most 255 characters.") == "Must be at most 255 characters."
    [error] = field_errors_in_words({"action_config.updates": ["is not valid JSON: x"]}, "", "update_product")
    assert error.text == "Updates (JSON object) is not valid JSON: x."
    assert error.path == "action_config.updates"


@pytest.mark.django_db
def test_the_builders_labels_are_the_pages_labels(owner):
    client = Client()
    client.force_login(owner)
    html = client.get("/portal/automations/builder/new").content.decode()
    shown = set(re.findall(r"<label[^>]*>\s*(?:<input[^>]*>)?\s*([^<]+?)\s*</label>", html))
    shown |= set(re.findall(r'aria-label="([^"]+)"', html))
    for path, label in RULE_FIELD_LABELS.items():
        if path in ("trigger_config", "action_config", "conditions", "auto_approval_rules"):
            continue  # sections, not inputs
        assert any(text == label or text.startswith(f"{label} (") for text in shown), (path, label)


@pytest.mark.django_db
def test_builder_shows_labels_and_sentences_not_paths(owner, tenant):
    client = Client()
    client.force_login(owner)
    post = {
        **VALID_POST,
        "trigger_type": "schedule",
        "t_pattern": "daily",
        "t_time": "",
        "action_type": "generate_campaign",
        "a_generate_campaign__template_id": "",
    }
    response = client.post("/portal/automations/builder/new", post)
    assert response.status_code == 400
    html = response.content.decode()
    summary = html[html.index('id="error-summary"') : html.index("</ul>", html.index('id="error-summary"'))]
    assert "Time: This field is required, as HH:MM in 24-hour time." in summary
    assert "Template: This field is required." in summary
    text = re.sub(r"<[^>]+>", " ", summary)  # what a person reads, without attributes
    assert "trigger_config" not in text and "action_config" not in text
    # the field's own message beside it, in the same words
    assert "This field is required, as HH:MM in 24-hour time." in html[html.index('id="f-t_time-error"') :]


@pytest.mark.django_db
def test_builder_test_panel_names_labels(owner, tenant):
    client = Client()
    client.force_login(owner)
    post = {**VALID_POST, "cond-0-operator": "between", "cond-0-value": "", "sample_context": "{}"}
    html = client.post("/portal/automations/builder/test", post).content.decode()
    assert "Condition 1 value must be a list of two values" in html
    assert "conditions[0].value" not in re.sub(r"<[^>]+>", " ", html)


@pytest.mark.django_db
def test_the_api_keeps_the_paths(owner, tenant):
    body = {
        "name": "x",
        "trigger_type": "schedule",
        "trigger_config": {"pattern": "daily"},
        "action_type": "generate_campaign",
        "action_config": {"channels": ["email"]},
    }
    response = token_client(owner).post("/api/automations", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert "time" in errors["trigger_config"] and "template_id" in errors["action_config"]
