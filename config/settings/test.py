"""pytest settings: fast hashing, in-memory email, tasks run eagerly."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Unit tests run tasks eagerly, called through .delay()/on_commit so arguments are serialised.
# Pipeline tests start real worker processes with CELERY_TASK_ALWAYS_EAGER=false in their environment.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True

# Login throttling is off for the suite: the test client's login() calls authenticate() without a request,
# which django-axes refuses. tests/governance/test_login_throttling.py turns it on for its tests.
AXES_ENABLED = False
