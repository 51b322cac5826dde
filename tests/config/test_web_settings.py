"""config.web's settings for granian, read from the environment."""

from __future__ import annotations

import re

import pytest

from config.web import bind_address, server_options

pytestmark = pytest.mark.database_free


def test_settings_come_from_the_environment():
    options = server_options({"WEB_BIND": "[::1]:9000", "WEB_WORKERS": "3", "WEB_THREADS": "8"})
    assert (options["address"], options["port"], options["workers"], options["blocking_threads"]) == ("::1", 9000, 3, 8)
    assert server_options({})["port"] == 8000
    assert options["respawn_failed_workers"] is True


def test_a_bind_address_without_a_port_is_refused_with_its_value():
    with pytest.raises(SystemExit, match=re.escape("WEB_BIND must be host:port, not '0.0.0.0'")):
        bind_address("0.0.0.0")
