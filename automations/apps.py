from django.apps import AppConfig
from django.core.signals import setting_changed


class AutomationsConfig(AppConfig):
    name = "automations"
    verbose_name = "Automation rules"

    def ready(self) -> None:
        from automations import checks  # noqa: F401  (registers the settings checks)
        from automations.builtin_kinds import register_builtin_kinds
        from automations.kinds.actions import action_kind_keys, load_host_action_kinds
        from automations.kinds.operators import load_host_operators
        from automations.kinds.triggers import load_host_trigger_kinds
        from governance.models import known_action_types_from
        from governance.signals import tenant_zone_changed

        register_builtin_kinds()
        load_host_action_kinds()
        load_host_trigger_kinds()
        load_host_operators()
        setting_changed.connect(_reload_host_kinds, dispatch_uid="automations.kinds")

        tenant_zone_changed.connect(_reschedule_tenant_rules, dispatch_uid="automations.reschedule")
        # A tenant's time-saved setting may name only action types this registry knows.
        known_action_types_from(action_kind_keys)


def _reload_host_kinds(sender: object, setting: str, **kwargs: object) -> None:
    """``override_settings(AUTOMATIONS=...)`` in a test loads (and afterwards drops) host kinds and operators."""
    if setting != "AUTOMATIONS":
        return
    from automations.kinds.actions import load_host_action_kinds
    from automations.kinds.operators import load_host_operators
    from automations.kinds.triggers import load_host_trigger_kinds

    load_host_action_kinds()
    load_host_trigger_kinds()
    load_host_operators()


def _reschedule_tenant_rules(sender: object, tenant: object, **kwargs: object) -> None:
    """A tenant's new time zone moves the next slot of its schedule rules that follow the tenant's zone."""
    from automations.services import rules_reschedule

    rules_reschedule(tenant)  # type: ignore[arg-type]
