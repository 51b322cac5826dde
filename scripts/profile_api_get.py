"""Profile GET /api/automations/<id> (or another path: --path, --body) in process, through the whole WSGI
stack, with production settings.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/automations_<name> \
       .venv/bin/python scripts/profile_api_get.py [--seed] [--requests N] [--profile] [--path P --body JSON]

POST /api/events, one event per call (CELERY_BROKER_URL=redis://... so the wake-up is published as in
production): --path /api/events --status 202 --body '{"tenant_id": "tenant_bench", "event_type": "x"}'.

With --seed the database is migrated and given 1,000 rules in one tenant and an owner token (as
bench/bench_api.py does). Each request addresses a different rule; nothing is cached between requests.
Prints CPU ms per request (process time), SQL queries per request and, with --profile, the top of a
cProfile by cumulative and internal time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
os.environ.setdefault("SECRET_KEY", "profile-only-secret-key-not-for-production-use-0123456789abcdef")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("API_THROTTLE_RATE", "100000000/minute")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

TENANT = "tenant_bench"
RULES = int(os.environ.get("PROFILE_RULES", "1000"))


def seed() -> None:
    from django.core.management import call_command

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from bench_api import RULE_BODY

    from automations.services import rule_create
    from governance.models import Tenant

    call_command("migrate", verbosity=0)
    call_command("api_token", "bencher", "--tenant", TENANT, "--role", "owner", stdout=io.StringIO())
    tenant = Tenant.objects.get(pk=TENANT)
    body = {key: value for key, value in RULE_BODY.items() if key != "tenant_id"}
    for i in range(RULES):
        rule_create(tenant, {**body, "name": f"Bench rule {i}"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", action="store_true")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--path", default="/api/automations/{rule}")
    parser.add_argument("--body", help="JSON body: the request is a POST (e.g. test-conditions)")
    parser.add_argument("--status", type=int, default=200, help="the status every request must answer")
    parser.add_argument(
        "--wsgi", action="store_true", help="call config.wsgi.application (as the web server does), not the test client"
    )
    args = parser.parse_args()
    if args.seed:
        seed()
    from django.contrib.auth import get_user_model

    from automations.models import AutomationRule
    from governance.services import api_token_create

    # Keys are stored hashed: each run makes a token of its own (the seeded one cannot be read back).
    _, token = api_token_create(get_user_model().objects.get(username="bencher"), "profile_api_get")
    rules = list(AutomationRule.objects.filter(tenant_id=TENANT).values_list("pk", flat=True))
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json")

    from django.test import RequestFactory

    from config.wsgi import application

    factory = RequestFactory(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json")

    def one(index: int) -> None:
        path = args.path.format(rule=rules[index % len(rules)])
        if args.wsgi:
            method, body = ("GET", "") if args.body is None else ("POST", args.body)
            environ = factory.generic(method, path, body, content_type="application/json").environ
            answered: list[str] = []
            content = b"".join(application(environ, lambda status, headers, *_: answered.append(status)))
            assert int(answered[0][:3]) == args.status, content
            return
        if args.body is None:
            response = client.get(path)
        else:
            response = client.post(path, data=args.body, content_type="application/json")
        assert response.status_code == args.status, response.content

    for i in range(50):  # warm up
        one(i)
    with CaptureQueriesContext(connection) as queries:
        one(7)
    print("queries per request:", len(queries))
    for query in queries:
        print("  ", query["sql"][:300])
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    started = time.process_time()
    wall = time.perf_counter()
    if profiler:
        profiler.enable()
    for i in range(args.requests):
        one(i)
    if profiler:
        profiler.disable()
    cpu = time.process_time() - started
    print(
        json.dumps(
            {
                "requests": args.requests,
                "cpu_ms_per_request": round(cpu / args.requests * 1000, 3),
                "wall_ms_per_request": round((time.perf_counter() - wall) / args.requests * 1000, 3),
                "profiled": bool(profiler),
            }
        )
    )
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)


if __name__ == "__main__":
    main()
