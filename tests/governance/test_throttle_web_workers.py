"""The API throttle under the README's production command: several web worker processes share one counter
(through Redis), so a token gets the configured rate in all, not the rate per web process."""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api import token_for
from tests.services import require_redis
from tests.web_server import production_web_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RATE = 5
REQUESTS = 40
CLIENTS = 8


def get(url: str, token: str = "") -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_two_web_workers_share_the_throttle_counter(owner, tmp_path, monkeypatch):
    redis_url = require_redis().rsplit("/", 1)[0] + "/5"  # the throttle tests' Redis database
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    token = token_for(owner)
    monkeypatch.delenv("THROTTLE_CACHE_URL", raising=False)  # production shares the broker's Redis
    # a day-long window: no boundary falls inside the test
    server = production_web_server(tmp_path / "web.log", redis_url, workers=2, API_THROTTLE_RATE=f"{RATE}/day")
    try:
        with server as running:
            base = f"http://127.0.0.1:{running.port}"
            # when one token makes more requests than the rate, from several clients at once (on new
            # connections, which the two worker processes share)
            with ThreadPoolExecutor(CLIENTS) as pool:
                statuses = list(pool.map(lambda _: get(f"{base}/api/automations", token), range(REQUESTS)))
            # then exactly the rate is allowed in all
            assert statuses.count(200) == RATE, statuses
            assert statuses.count(429) == REQUESTS - RATE, statuses
    finally:
        redis.Redis.from_url(redis_url).flushdb()
