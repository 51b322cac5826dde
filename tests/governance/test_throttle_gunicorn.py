"""The API throttle under the README's production command: several gunicorn workers share one counter
(through Redis), so a token gets the configured rate in all, not the rate per web process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from tests.api import token_for
from tests.executions.workers import test_database_url as subprocess_database_url
from tests.executions.workers import wait_for
from tests.services import require_redis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RATE = 5
REQUESTS = 40
CLIENTS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, token: str = "") -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_two_gunicorn_workers_share_the_throttle_counter(owner, tmp_path):
    redis_url = require_redis().rsplit("/", 1)[0] + "/5"  # the throttle tests' Redis database
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    token = token_for(owner)
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": subprocess_database_url(),
        "CELERY_BROKER_URL": redis_url,  # no THROTTLE_CACHE_URL: production shares the broker's Redis
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "API_THROTTLE_RATE": f"{RATE}/day",  # a day-long window: no boundary falls inside the test
    }
    env.pop("THROTTLE_CACHE_URL", None)
    log = (tmp_path / "gunicorn.log").open("wb")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket"],
        cwd=str(settings.BASE_DIR),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{base}/healthz") == 200, timeout=60, message="gunicorn")
        # when one token makes more requests than the rate, from several clients at once (so both
        # workers take some: each sync worker serves one connection at a time)
        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(lambda _: get(f"{base}/api/automations", token), range(REQUESTS)))
        # then exactly the rate is allowed in all
        assert statuses.count(200) == RATE, statuses
        assert statuses.count(429) == REQUESTS - RATE, statuses
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis.Redis.from_url(redis_url).flushdb()
