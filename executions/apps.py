from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"

    def ready(self) -> None:
        # Built-in action handlers register themselves on import; receivers and checks connect here;
        # the listener tasks register with Celery (autodiscovery only imports tasks.py).
        from executions import actions, checks, signals, tasks_listeners  # noqa: F401

        signals.connect_model_events()
