from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance: tenants, roles and councils"

    def ready(self) -> None:
        from governance import checks  # noqa: F401  (registers the deploy checks)
