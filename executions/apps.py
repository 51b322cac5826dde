from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"

    def ready(self) -> None:
        # Built-in action handlers register themselves on import; receivers and checks connect here;
        # the listener tasks register with Celery (autodiscovery only imports tasks.py).
        from automations.signals import rule_archived
        from executions import actions, checks, signals, tasks_listeners  # noqa: F401

        signals.connect_model_events()
        rule_archived.connect(signals.cancel_approvals_of_archived_rule, dispatch_uid="executions.cancel_approvals")
