"""The spec's import path for the worker (Testing Guide §3: ``from automation_worker import AutomationWorker``).

The worker lives in ``executions.worker``; this module only names it where the spec looks for it, so the
guide's snippet runs as written in ``python manage.py shell``.
"""

from executions.worker import AutomationWorker

__all__ = ["AutomationWorker"]
