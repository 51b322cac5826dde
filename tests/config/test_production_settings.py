"""config.settings.production: `check --deploy` is clean with only a real SECRET_KEY set, and the HTTPS
settings follow the environment."""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
names = ["DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
         "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
         "SILENCED_SYSTEM_CHECKS", "AXES_ENABLED"]
print(json.dumps({name: getattr(s, name) for name in names}))
"""


def random_secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(50))


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a fresh production process: only what the deployment sets."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SECURE_", "DJANGO_", "DEBUG"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", SECRET_KEY=random_secret_key())
    env.update({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", **overrides})  # the README's production broker
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=Path(settings.BASE_DIR), capture_output=True, text=True, timeout=120
    )


def resolved(**overrides: str) -> dict:
    result = run(["-c", PRINT_SETTINGS], production_env(**overrides))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_with_the_defaults():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_safe_defaults():
    assert resolved() == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SILENCED_SYSTEM_CHECKS": ["security.W021"],
        "AXES_ENABLED": True,
    }


def test_environment_overrides():
    values = resolved(
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="300",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="no",
        SECURE_HSTS_PRELOAD="true",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 300
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False and values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SILENCED_SYSTEM_CHECKS"] == []


def test_a_bad_proxy_header_name_is_refused_at_startup():
    result = run(["-c", PRINT_SETTINGS], production_env(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https"))
    assert result.returncode != 0 and "SECURE_PROXY_SSL_HEADER must be a header name" in result.stderr


def test_behind_a_tls_proxy_https_requests_are_served_and_plain_ones_redirected(client, settings, monkeypatch):
    from config.settings.base import env_proxy_ssl_header

    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
    plain = client.get("/accounts/login/")
    assert (plain.status_code, plain["Location"]) == (301, "https://testserver/accounts/login/")
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_check_deploy_warns_when_the_throttle_counts_per_process():
    env = production_env(CELERY_BROKER_URL="filesystem://")
    env.pop("THROTTLE_CACHE_URL", None)
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0 and "governance.W001" in result.stderr


def test_production_shares_the_throttle_counter_through_the_broker_redis():
    result = run(["-c", PRINT_CACHE], production_env())
    assert result.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/0"]


PRINT_CACHE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.CACHES['throttle']['BACKEND'], settings.CACHES['throttle']['LOCATION'])"
)
