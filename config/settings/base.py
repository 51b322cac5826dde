"""Settings shared by every environment; everything that varies comes from the environment."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from automations.conf import settings_from_environ
from automations.embedding import CELERY_SETTINGS, TASK_QUEUES, TASK_ROUTES
from config.log_format import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("AUTOMATIONS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean from the environment ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list from the environment."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """A header name such as ``X-Forwarded-Proto`` -> ``("HTTP_X_FORWARDED_PROTO", "https")``; unset -> None."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not all(part.isalnum() for part in value.replace("-", "_").split("_")):
        raise ImproperlyConfigured(f"{name} must be a header name such as X-Forwarded-Proto, not {value!r}")
    meta = value.upper().replace("-", "_")
    return (meta if meta.startswith("HTTP_") else f"HTTP_{meta}", "https")


SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-development-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "django_structlog",
    "governance",
    "automations",
    "executions",
    "executions.demo",  # the demo store (docs/demo.md); its simulator and receiver run only under make run
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "governance.common.api_errors.ApiRequestGuardMiddleware",
    "governance.common.db_locks.DatabaseLockMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A page's Http404 renders templates/404.html even with DEBUG on (config/site_views.py).
    "config.site_views.NotFoundPageMiddleware",
    # Last, as django-axes asks: it turns a login refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "executions.context_processors.portal",
                "csp.context_processors.nonce",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
# DATABASE_CONN_MAX_AGE (seconds, default 0) keeps connections open between requests and tasks; worker
# processes on PostgreSQL save a connection set-up per task with it (bench/bench_pipeline.py uses 60).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
}
# DATABASE_LOCK_TIMEOUT (seconds, default 5) bounds how long a statement waits for a lock: SQLite's busy
# timeout, PostgreSQL's lock_timeout (0 there: no limit). Transactions are short (docs/pipeline.md), so
# a longer wait means something holds a lock far too long: the request answers 503 with Retry-After
# (governance/common/db_locks.py) instead of hanging, and a worker's rows wait for the sweepers.
DATABASE_LOCK_TIMEOUT = float(os.environ.get("DATABASE_LOCK_TIMEOUT", "5"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # TRICKY: the web process and Celery worker processes share one SQLite file. WAL lets readers
    # run beside a writer, the busy timeout waits for a lock instead of failing at once, and
    # IMMEDIATE transactions take the write lock up front so two writers never deadlock on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": DATABASE_LOCK_TIMEOUT,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    postgresql_options = DATABASES["default"].setdefault("OPTIONS", {})
    if DATABASE_LOCK_TIMEOUT > 0:
        postgresql_options["options"] = f"-c lock_timeout={int(DATABASE_LOCK_TIMEOUT * 1000)}"
    # DATABASE_SERVER_SIDE_BINDING (default true): parameters travel beside the statement instead of being
    # quoted into it by psycopg in Python (a fifth of a worker's CPU under load). DATABASE_PREPARE_THRESHOLD
    # (default 5, "off" for none; only with server-side binding): a statement run that many times on a
    # connection is prepared, so PostgreSQL parses and plans it once (Django turns psycopg's preparing off
    # unless asked: in process, a lone event's statements cost PostgreSQL 12.4 ms of CPU unprepared, 7.1
    # prepared). Turn both off behind a pooler that cannot keep prepared statements (PgBouncer in transaction
    # mode before 1.21). docs/operations.md, "Production details".
    postgresql_options["server_side_binding"] = env_bool("DATABASE_SERVER_SIDE_BINDING", default=True)
    prepare_threshold = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
    if postgresql_options["server_side_binding"] and prepare_threshold != "off":
        postgresql_options["prepare_threshold"] = int(prepare_threshold)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/portal/dashboard"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Content Security Policy (django-csp) -------------------------------------------------------------
# Scripts, styles, images and fonts come from this site only: no inline script, style element or style
# attribute runs unless it carries the response's nonce (templates write {{ CSP_NONCE }}; the API docs
# pages override drf-spectacular's templates to do so). No framing, no plugins, forms post here only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # Swagger UI and Redoc draw some icons from data: URLs.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Login throttling (django-axes) -----------------------------------------------------------------
# Every password check (the portal and admin login forms, the API's Basic authentication) goes through
# django.contrib.auth.authenticate(request=...), where the axes backend refuses a locked-out username and
# address before the password is looked at. Failures are counted per (username, client address): an
# attacker guessing alice's password from one address locks only that pair, never alice signing in from
# her own address. `manage.py axes_reset_username alice` (or axes_reset_ip, axes_reset) unlocks early;
# the admin lists the attempts (Axes > Access attempts) and deleting one unlocks it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A successful sign-in clears the pair's failures.
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The same client address as the API throttle (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES proxies).
AXES_CLIENT_IP_CALLABLE = "governance.api.throttling.client_address"

# --- Celery -----------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport: a real broker shared by separate worker
# processes through files under var/, needing no server. Production sets redis://.
# The broker only carries wake-ups: events and executions are rows, and sweepers re-queue anything a
# lost message left behind (docs/pipeline.md).
BROKER_DIR = Path(os.environ.get("AUTOMATIONS_BROKER_DIR", VAR_DIR / "broker"))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
# TRICKY: Redis redelivers an unacknowledged message after this many seconds. Every acks_late task's
# hard time limit and the execution lease must stay far below it (checked by automations.checks).
REDIS_VISIBILITY_TIMEOUT = int(os.environ.get("REDIS_VISIBILITY_TIMEOUT", "3600"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange bindings; kombu's default is "control" in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # TRICKY: the worker also sleeps this long whenever its prefetch slots are full (prefetch 1 per
        # process), so it bounds throughput at about concurrency / polling_interval messages a second.
        "polling_interval": 0.05,
    }
elif CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    # RabbitMQ: publisher confirms, so a publish returns once the broker has the message.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": REDIS_VISIBILITY_TIMEOUT,
        # Bounded socket operations, so publishing while Redis is down fails fast instead of hanging.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "retry_on_timeout": False,
        "health_check_interval": 25,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues and routes: the service's own (automations/embedding.py), as a host project gets them.
CELERY_TASK_DEFAULT_QUEUE = "executions"
CELERY_TASK_QUEUES = TASK_QUEUES
CELERY_TASK_ROUTES = TASK_ROUTES
# Pipeline tasks claim their work with guarded updates, so late acknowledgement is safe: a redelivered
# message finds the row past its state and returns. One message per worker process at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# TRICKY: Celery's Django fixup closes every database connection before and after each task unless
# CELERY_DB_REUSE_MAX is set (celery/celery#9824, 5.6: CONN_MAX_AGE is not honoured), so on PostgreSQL each
# task paid a new connection (a backend forked on the server, the client's set-up). With it Celery closes
# them only after this many tasks, and executions.celery_app closes the old or broken ones around each task
# as Django does around a request (CONN_MAX_AGE, the health check): measured in docs/operations.md.
CELERY_DB_REUSE_MAX = CELERY_SETTINGS["CELERY_DB_REUSE_MAX"]  # one value for this project and host projects
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "40"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "50"))
# Keep the worker trying to reach the broker forever (it must recover after a Redis restart) and keep
# running tasks when the connection drops: their guarded claims make a redelivery harmless.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Publishing never hangs the caller: a short connect timeout and a bounded retry, after which the
# row stays in the outbox for the sweeper.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False

# --- Automations ------------------------------------------------------------------------------
# The service's settings, one dict (automations/conf.py holds every key's default; docs/settings.md is the
# table). Any key can be set from the environment as AUTOMATIONS_<KEY>, e.g. AUTOMATIONS_PIPELINE_BATCH_SIZE=50.
AUTOMATIONS = settings_from_environ(os.environ)

# /readyz (executions/health.py): how long the worker canary may take, and how old beat's last sent
# periodic task may be (django-celery-beat saves last_run_at every few minutes, so allow for that).
READYZ_CANARY_SECONDS = float(os.environ.get("READYZ_CANARY_SECONDS", "5"))
READYZ_BEAT_MAX_AGE_SECONDS = float(os.environ.get("READYZ_BEAT_MAX_AGE_SECONDS", "600"))

# Prometheus scrape at /metrics (docs/operations.md, "Metrics"): served to a request carrying
# "Authorization: Bearer <METRICS_TOKEN>"; with no token set, to loopback clients only where
# METRICS_ALLOW_LOOPBACK is on (local settings); otherwise 404.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOW_LOOPBACK = env_bool("METRICS_ALLOW_LOOPBACK", False)

# The demo store (executions/demo, docs/demo.md): on only in the local settings (make run).
DEMO_STORE = False
DEMO_STORE_SEED = 19

# --- REST API ---------------------------------------------------------------------------------
# Bodies over this size are refused with 413 before they are read (events and rules are small).
API_MAX_REQUEST_BYTES = int(os.environ.get("API_MAX_REQUEST_BYTES", str(256 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_REQUEST_BYTES
CSRF_FAILURE_VIEW = "governance.common.api_errors.json_or_default_csrf_failure"
# Requests per token (or session user, or anonymous address) per window: "<n>/second|minute|hour|day".
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "1200/minute") or None
# POST /api/events's lean path (executions/api/ingest.py): on, a well-formed event post with an API token
# skips Django's middleware and DRF (same answers); each process then rechecks a token and its caller's
# memberships at most every API_TOKEN_CACHE_SECONDS, so a revocation takes effect within that time.
API_LEAN_INGESTION = env_bool("API_LEAN_INGESTION", True)
API_TOKEN_CACHE_SECONDS = float(os.environ.get("API_TOKEN_CACHE_SECONDS", "5"))

# The counters' Redis (the API throttle's and the tenant quotas') answers within this many seconds or the
# operation fails: a Redis that hangs then costs a request this long, and the counters fail open (they are
# not enforced meanwhile, governance/api/throttling.py and governance/quotas.py) instead of holding it.
COUNTER_REDIS_TIMEOUT_SECONDS = 1.0


def counter_redis_cache(url: str, **extra: str) -> dict:
    """A Redis cache for the throttle and quota counters at ``url``, its socket operations bounded."""
    timeouts = {
        "socket_connect_timeout": COUNTER_REDIS_TIMEOUT_SECONDS,
        "socket_timeout": COUNTER_REDIS_TIMEOUT_SECONDS,
    }
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "OPTIONS": timeouts, **extra}


CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
    # Throttle counters. Local memory counts per process; set THROTTLE_CACHE_URL=redis://... to
    # share one atomic counter between every web process.
    "throttle": (
        counter_redis_cache(os.environ["THROTTLE_CACHE_URL"])
        if os.environ.get("THROTTLE_CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    ),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.api.authentication.BearerOrTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        # For curl -u in demos and scripts; failed attempts are throttled per address like bad tokens.
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["governance.common.api_parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["governance.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": API_THROTTLE_RATE},
    "EXCEPTION_HANDLER": "governance.common.api_errors.api_exception_handler",
    # Reverse proxies in front of the app. 0: the client address is REMOTE_ADDR and X-Forwarded-For is
    # ignored (DRF's default, None, trusts any X-Forwarded-For, so a client could pick its own address
    # and escape per-address throttling and login lockouts).
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# The OpenAPI schema (/api/schema/) and its pages (/api/docs/) are for signed-in users; on,
# anyone may read them.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)

SPECTACULAR_SETTINGS = {
    "TITLE": "Automation rules API",
    "DESCRIPTION": "Rules (trigger -> conditions -> governance -> action), their executions and approvals. "
    "Authenticate with `Authorization: Token <key>` (or `Bearer <key>`); see docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["executions.api.router.schema_preprocessing_hook"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "executions.api.router.schema_postprocessing_hook",
    ],
}
# --- Email (the built-in notification channel; others: AUTOMATIONS["NOTIFICATION_CHANNELS"]) ------------
# Email is the built-in channel; production.py picks the SMTP backend and host.
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "automations@localhost")

# Logs (docs/operations.md, "Logs"): LOG_FORMAT=json writes one JSON object per line, with the request,
# tenant, rule, execution and event ids; plain (the default) writes the same as readable lines.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = logging_config(LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"))
# django-structlog's RequestMiddleware: a request id (and the user) on every web line and one
# request_finished line per request. Its client address comes from the API throttle's rule (NUM_PROXIES),
# bound by governance.api.throttling.bind_client_address, never from a header a client can forge.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_STATUS_4XX_LOG_LEVEL = logging.INFO  # django.request already warns about each 4xx
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env_bool("TRUST_UPSTREAM_REQUEST_ID", False)
