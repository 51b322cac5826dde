"""The Celery application; its settings live in Django settings under ``CELERY_``."""

import os

from celery import Celery

from governance.common.kombu_fixes import (
    atomic_filesystem_messages,
    guard_redis_released_channels,
    reuse_redis_command_clients,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

guard_redis_released_channels()
atomic_filesystem_messages()
reuse_redis_command_clients()
app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
