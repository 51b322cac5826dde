from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"

    def ready(self) -> None:
        # Built-in action handlers register themselves on import; receivers and checks connect here.
        from executions import actions, checks, signals  # noqa: F401

        signals.connect_model_events()
