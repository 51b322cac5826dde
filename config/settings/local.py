"""Developer machine: `make run`. Debug on unless the environment says otherwise."""

from automations.demo import DEMO_TENANT_ID
from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool

DEBUG = env_bool("DEBUG", True)
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# make run: a Prometheus on this machine may scrape /metrics without a token (loopback clients only).
METRICS_ALLOW_LOOPBACK = env_bool("METRICS_ALLOW_LOOPBACK", True)

# make run's demo (seed_demo): an event that names no tenant, such as the Testing Guide §3 snippet's
# AutomationWorker().event_listener.emit_event("product_added", {...}), goes to the demo tenant.
# AUTOMATIONS_DEFAULT_TENANT in the environment wins.
AUTOMATIONS.setdefault("DEFAULT_TENANT", DEMO_TENANT_ID)  # noqa: F405
