"""Developer machine: `make run`. Debug on unless the environment says otherwise."""

import os

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

# make run's demo store (executions/demo, docs/demo.md): a simulator produces the demo tenant's events and
# metric samples, and the tenant's webhooks go to the demo receiver on this server, over loopback. Off:
# DEMO_STORE=off. Loopback delivery is allowed here only; the production settings force it off.
DEMO_STORE = env_bool("DEMO_STORE", True)
DEMO_STORE_SEED = int(os.environ.get("DEMO_STORE_SEED", "19"))
AUTOMATIONS.setdefault("WEBHOOK_ALLOW_LOOPBACK", DEMO_STORE)  # noqa: F405

# make run's embedded install (SQLite; docs/operations.md, "Load on the embedded install"): its one worker
# process (serve's default on SQLite) takes batches of 50 events, so under load it keeps up with what the web
# server accepts (batches of 25: about 218 delivered a second against 230-240 accepted, a growing backlog).
# AUTOMATIONS_PIPELINE_BATCH_SIZE / AUTOMATIONS_WEBHOOK_BATCH_CONCURRENCY in the environment win.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    AUTOMATIONS.setdefault("PIPELINE_BATCH_SIZE", 50)  # noqa: F405
    AUTOMATIONS.setdefault("WEBHOOK_BATCH_CONCURRENCY", 50)  # noqa: F405
