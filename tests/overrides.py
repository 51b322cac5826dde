"""``override_automations(KEY=value, ...)``: ``override_settings`` for keys of the ``AUTOMATIONS`` dict.

The other keys keep their values; like ``override_settings`` it works as a decorator (functions and
classes) and as a context manager, and the change (and its undoing) reaches ``app_settings`` through
``setting_changed``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test.utils import override_settings


class override_automations(override_settings):
    def __init__(self, **values: Any) -> None:
        self.automations_values = values
        super().__init__()

    def enable(self) -> None:
        self.options = {"AUTOMATIONS": {**getattr(settings, "AUTOMATIONS", {}), **self.automations_values}}
        super().enable()
