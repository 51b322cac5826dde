from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "automations"
    verbose_name = "Automation rules"

    def ready(self) -> None:
        from automations.kinds.builtin_operators import register_builtin_operators
        from governance.signals import tenant_zone_changed

        register_builtin_operators()

        tenant_zone_changed.connect(_reschedule_tenant_rules, dispatch_uid="automations.reschedule")


def _reschedule_tenant_rules(sender: object, tenant: object, **kwargs: object) -> None:
    """A tenant's new time zone moves the next slot of its schedule rules that follow the tenant's zone."""
    from automations.services import rules_reschedule

    rules_reschedule(tenant)  # type: ignore[arg-type]
