from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"

    def ready(self) -> None:
        # Built-in action handlers register themselves on import; receivers connect here; every task
        # registers with Celery in every process (publishers look tasks up by name, executions.dispatch;
        # autodiscovery would import tasks.py only where the worker starts).
        from automations.approval_facts import register_executions_today_counter
        from automations.page_facts import page_facts
        from automations.signals import rule_archived
        from automations.warnings import register_warning_check
        from executions import actions, backtest, health, rule_warnings, signals, tasks, tasks_listeners  # noqa: F401
        from executions.celery_app import remember_project_app
        from executions.selectors import (
            action_only_recorded,
            rule_executions_run_today_count,
            tenant_executions_since_count,
            tenant_latest_metric_values,
        )

        # The project created its Celery app while its settings loaded; keep it for the other threads.
        remember_project_app()
        signals.connect_model_events()
        rule_archived.connect(signals.cancel_approvals_of_archived_rule, dispatch_uid="executions.cancel_approvals")
        # max_frequency_per_day counts our own execution rows; governance sits below us, so we hand it down.
        register_executions_today_counter(rule_executions_run_today_count)
        # The rules list shows how many executions ran today, and recommendations read the latest metrics.
        page_facts.executions_since = tenant_executions_since_count
        page_facts.latest_metric_values = tenant_latest_metric_values
        # Rule warnings that read the tenant's events, metrics and runs (automations.warnings).
        register_warning_check(rule_warnings.check_unknown_keys)
        register_warning_check(rule_warnings.check_threshold_met)
        register_warning_check(rule_warnings.check_backtest)
        # The rule's page and the builder warn when nothing receives the action's commands.
        page_facts.action_only_recorded = action_only_recorded
        # Recommendations carry what a backtest of each template finds on the tenant's history.
        page_facts.backtest_estimates = backtest.backtest_estimates
