"""Loading a host project's kinds from settings (AUTOMATIONS_ACTION_KINDS, _TRIGGER_KINDS, _OPERATORS)."""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def load_host_specs(setting: str, spec_class: type, registry: dict[str, Any], host_keys: set[str]) -> None:
    """(Re)load ``settings.<setting>``, a list of dotted paths to ``spec_class`` objects, into ``registry``.

    The previous host specs (``host_keys``) are dropped first, so a test's ``override_settings`` loads
    and afterwards unloads them. A host spec may not reuse a built-in key. A spec's ``runtime`` (the
    module of its command builder or listener) is imported after it is registered.
    """
    for key in host_keys:
        registry.pop(key, None)
    host_keys.clear()
    for path in getattr(settings, setting, None) or ():
        spec = import_string(path)
        if not isinstance(spec, spec_class):
            raise ImproperlyConfigured(f"{setting}: {path} is not a {spec_class.__name__}")
        if spec.key in registry:
            raise ImproperlyConfigured(f"{setting}: {path} reuses the built-in key {spec.key!r}")
        registry[spec.key] = spec
        host_keys.add(spec.key)
        if getattr(spec, "runtime", ""):
            importlib.import_module(spec.runtime)
