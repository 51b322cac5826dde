from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance: tenants, roles and councils"

    def ready(self) -> None:
        from django_structlog.signals import bind_extra_request_metadata

        from governance import checks  # noqa: F401  (registers the deploy checks)
        from governance.api.throttling import bind_client_address

        bind_extra_request_metadata.connect(bind_client_address, dispatch_uid="governance.client_address")
