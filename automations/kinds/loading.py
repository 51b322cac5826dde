"""Loading a host project's kinds from settings (AUTOMATIONS["ACTION_KINDS"], ["TRIGGER_KINDS"], ["OPERATORS"])."""

from __future__ import annotations

import importlib
from typing import Any, Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from automations.conf import app_settings


class _Spec(Protocol):
    @property
    def key(self) -> str: ...


_SpecT = TypeVar("_SpecT", bound=_Spec)


def load_host_specs(setting: str, spec_class: type[_SpecT], registry: dict[str, Any], host_keys: set[str]) -> None:
    """(Re)load ``AUTOMATIONS[setting]``, a list of dotted paths to ``spec_class`` objects, into ``registry``.

    The previous host specs (``host_keys``) are dropped first, so a test's ``override_settings`` loads
    and afterwards unloads them. A host spec may not reuse a built-in key. A spec's ``runtime`` (the
    module of its command builder or listener) is imported after it is registered.
    """
    for key in host_keys:
        registry.pop(key, None)
    host_keys.clear()
    for path in getattr(app_settings, setting) or ():
        spec = import_string(path)
        if not isinstance(spec, spec_class):
            raise ImproperlyConfigured(f"AUTOMATIONS[{setting!r}]: {path} is not a {spec_class.__name__}")
        if spec.key in registry:
            raise ImproperlyConfigured(f"AUTOMATIONS[{setting!r}]: {path} reuses the built-in key {spec.key!r}")
        registry[spec.key] = spec
        host_keys.add(spec.key)
        runtime = getattr(spec, "runtime", "")
        if runtime:
            importlib.import_module(runtime)
