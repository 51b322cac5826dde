"""Production: PostgreSQL and Redis from the environment, secure cookies, a real secret required, HTTPS only."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool, env_proxy_ssl_header

DEBUG = False
SECRET_KEY = os.environ["SECRET_KEY"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
# Loopback webhooks are for make run's demo store only (config/settings/local.py): never here, whatever
# AUTOMATIONS_WEBHOOK_ALLOW_LOOPBACK says. (Self-hosted installs that need local receivers say so with
# WEBHOOK_ALLOW_PRIVATE_NETWORKS, an operator's explicit choice.)
AUTOMATIONS["WEBHOOK_ALLOW_LOOPBACK"] = False  # noqa: F405
DEMO_STORE = False
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))  # noqa: F405

# --- HTTPS ---------------------------------------------------------------------------------------
# Safe by default: plain HTTP is redirected to HTTPS and browsers are told to use only HTTPS for a year,
# subdomains included. Lower SECURE_HSTS_SECONDS (e.g. 300) while trying HTTPS out: browsers remember it.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Off by default: "preload" lets anyone submit the domain to the browsers' built-in HSTS lists, which is
# the domain owner's decision. `check --deploy` reminds about it (security.W021); that reminder is
# silenced while preload is deliberately off.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Behind a proxy that terminates TLS, name the header it sets to "https" on HTTPS requests (it must also
# overwrite that header when a client sends it); without it every request looks like plain HTTP here.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")

# --- the API throttle ----------------------------------------------------------------------------
# Counted in local memory, the limit would apply per web process (1200/minute per token became that
# times the number of web worker processes). Production shares one counter: THROTTLE_CACHE_URL, else the
# broker's Redis when the broker is Redis. Anything else is refused at start (config/checks.py).
if not os.environ.get("THROTTLE_CACHE_URL") and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):  # noqa: F405
    CACHES["throttle"] = counter_redis_cache(CELERY_BROKER_URL, KEY_PREFIX="automations-throttle")  # noqa: F405
