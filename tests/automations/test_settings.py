"""One settings dict read through app_settings: defaults in one place, the environment, the checks, the table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from automations.checks import check_automations_settings
from automations.conf import SETTING_FIELDS, app_settings, default_value, settings_from_environ
from tests.overrides import override_automations

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def check_ids() -> list[str]:
    return [problem.id for problem in check_automations_settings()]


def test_every_setting_has_its_default_when_the_project_sets_nothing(settings):
    settings.AUTOMATIONS = {}

    for name in SETTING_FIELDS:
        assert getattr(app_settings, name) == default_value(name), name


def test_a_project_value_wins_and_an_override_is_seen_at_once_and_undone(settings):
    settings.AUTOMATIONS = {"PIPELINE_BATCH_SIZE": 7}
    assert app_settings.PIPELINE_BATCH_SIZE == 7
    assert default_value("SWEEP_BATCH_SIZE") == app_settings.SWEEP_BATCH_SIZE

    with override_automations(SWEEP_BATCH_SIZE=3):
        assert (app_settings.PIPELINE_BATCH_SIZE, app_settings.SWEEP_BATCH_SIZE) == (7, 3)
    assert default_value("SWEEP_BATCH_SIZE") == app_settings.SWEEP_BATCH_SIZE


def test_every_key_reads_from_the_environment_as_its_type():
    environ = {
        "AUTOMATIONS_PIPELINE_BATCH_SIZE": "50",
        "AUTOMATIONS_WEBHOOK_READ_TIMEOUT": "2.5",
        "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "yes",
        "AUTOMATIONS_NOTICE_CHANNELS": "email, push",
        "AUTOMATIONS_WEBHOOK_RETRY_SCHEDULE": "1,2,3",
        "AUTOMATIONS_METRIC_PROVIDERS": '{"traffic": "shop.metrics.traffic"}',
        "AUTOMATIONS_DEFAULT_TENANT": "tenant_a",
        "AUTOMATIONS_WEBHOOK_ENQUEUE_DELIVERY": "",
        "UNRELATED": "1",
    }

    assert settings_from_environ(environ) == {
        "PIPELINE_BATCH_SIZE": 50,
        "WEBHOOK_READ_TIMEOUT": 2.5,
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True,
        "NOTICE_CHANNELS": ["email", "push"],
        "WEBHOOK_RETRY_SCHEDULE": (1.0, 2.0, 3.0),
        "METRIC_PROVIDERS": {"traffic": "shop.metrics.traffic"},
        "DEFAULT_TENANT": "tenant_a",
        "WEBHOOK_ENQUEUE_DELIVERY": None,
    }


def test_an_environment_value_that_does_not_parse_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="AUTOMATIONS_PIPELINE_BATCH_SIZE='many'"):
        settings_from_environ({"AUTOMATIONS_PIPELINE_BATCH_SIZE": "many"})


def test_the_shipped_settings_pass_every_check():
    assert check_automations_settings() == []


def test_an_unknown_key_is_an_error_that_suggests_the_closest_name(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "PIPELINE_BATCH_SIZ": 5}

    [problem] = check_automations_settings()
    assert problem.id == "automations.E010"
    assert "PIPELINE_BATCH_SIZE" in problem.hint


def test_a_value_of_the_wrong_type_is_an_error(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_REQUIRE_HTTPS": "yes", "SWEEP_AFTER_SECONDS": 1.5}

    assert check_ids() == ["automations.E011", "automations.E011"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PIPELINE_BATCH_SIZE": 0}, "automations.E012"),
        ({"WEBHOOK_INLINE_WAIT": -1.0}, "automations.E012"),
        ({"WEBHOOK_CLAIM_LEASE": 30.0}, "automations.E013"),
        ({"PIPELINE_BATCH_SIZE": 40}, "automations.W010"),
        ({"METRIC_PROVIDERS": {"traffic": "shop.nowhere.traffic"}}, "automations.E014"),
        ({"WEBHOOK_ENQUEUE_DELIVERY": "executions.nowhere.enqueue"}, "automations.E014"),
    ],
)
def test_each_invariant_is_checked(settings, values, expected):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, **values}

    assert check_ids() == [expected]


def test_a_top_level_setting_of_the_old_style_is_reported_not_ignored(settings):
    settings.AUTOMATIONS_PIPELINE_BATCH_SIZE = 5

    [problem] = check_automations_settings()
    assert problem.id == "automations.E015"
    assert 'AUTOMATIONS = {"PIPELINE_BATCH_SIZE": ...}' in problem.hint


def test_manage_py_check_stops_on_a_bad_setting(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_CLAIM_LEASE": 1.0}

    with pytest.raises(SystemCheckError, match="WEBHOOK_CLAIM_LEASE"):
        call_command("check")


def test_the_settings_table_lists_every_setting_with_its_default():
    text = DOCS.read_text()
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", text, flags=re.M))

    assert set(rows) == set(SETTING_FIELDS)
    for name in SETTING_FIELDS:
        default = default_value(name)
        shown = "None" if default is None else repr(list(default) if isinstance(default, tuple) else default)
        assert rows[name] == shown, name
        assert SETTING_FIELDS[name].metadata["doc"] in text, name
