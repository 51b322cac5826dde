from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"

    def ready(self) -> None:
        # Register the listener tasks with Celery (autodiscovery only imports tasks.py).
        from executions import tasks_listeners  # noqa: F401
