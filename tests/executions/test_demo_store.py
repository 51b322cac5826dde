"""The demo store (executions/demo): its receiver verifies and applies each command once, its simulator is
deterministic with a seed and bounded in rate, its page shows one tenant's store only."""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from automations.models import AutomationRule
from executions.delivery.models import WebhookEndpoint
from executions.delivery.signing import generate_secret, webhook_headers
from executions.demo.models import DemoCommand, DemoStoreItem
from executions.demo.simulator import MAX_ITEMS_PER_STEP, MIN_INTERVAL_SECONDS, DemoStoreSimulator, run_simulator
from executions.demo.store import demo_product_remove, demo_products, demo_store_open
from executions.models import AutomationExecution, Event, MetricSample
from governance.models import Tenant
from tests.factories import make_tenant

SERVER = "http://127.0.0.1:8000"


@pytest.fixture
def demo_settings(settings):
    """The local settings' loopback allowance, which the demo's endpoint needs."""
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_LOOPBACK": True}
    return settings


@pytest.fixture
def store(tenant, demo_settings):
    return demo_store_open(tenant, SERVER)


def post_command(client, store, command: dict, webhook_id: str, secret: str | None = None):
    body = json.dumps(
        {
            "type": f"automation.action.{command['command']}",
            "data": {"execution_id": None, "tenant_id": store.tenant_id, "command": command},
        }
    ).encode()
    headers = webhook_headers([secret or store.webhook_secret], webhook_id, body)
    return client.post(
        f"/demo-store/{store.tenant_id}/webhook",
        body,
        content_type="application/json",
        headers=headers,
    )


def count(store) -> int:
    return DemoStoreItem.objects.filter(store=store, kind="product").count()


def test_opening_a_store_creates_its_endpoint_on_loopback_and_keeps_the_secret(store, tenant):
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert endpoint.url == f"{SERVER}/demo-store/{tenant.pk}/webhook" and endpoint.action_type is None
    assert store.webhook_secret == endpoint.secret and store.endpoint == endpoint
    assert count(store) == 3
    # opened again on another port: the same endpoint, moved; nothing restocked
    again = demo_store_open(tenant, "http://127.0.0.1:8080")
    assert WebhookEndpoint.objects.get(tenant=tenant).url.startswith("http://127.0.0.1:8080/")
    assert again.webhook_secret == store.webhook_secret and count(store) == 3


def test_the_receiver_rejects_a_bad_signature_and_applies_each_command_once(
    client, store, django_capture_on_commit_callbacks
):
    # a bad signature: 401, recorded as rejected, nothing applied
    response = post_command(client, store, {"command": "product.add", "count": 2}, "execution_1", generate_secret())
    assert response.status_code == 401
    assert DemoCommand.objects.get().outcome == "rejected" and count(store) == 3
    assert client.post("/demo-store/tenant_nobody/webhook", b"{}", content_type="application/json").status_code == 404

    # each command changes the store
    commands = [
        {"command": "product.add", "template_id": "restock_basic", "count": 2, "category": "restock"},
        {"command": "product.update", "product_id": "prod_0001", "updates": {"price": 12}},
        {"command": "store.update", "settings": {"homepage_banner": "rotate"}},
        {"command": "landing_page.create", "template_id": "product_spotlight", "title": "New in"},
        {"command": "campaign.generate", "template_id": "weekly_promo", "channels": ["email"]},
        {"command": "workflow_draft.generate", "workflow_type_id": "conversion_recovery", "title": "Win back"},
        {"command": "workflow.start", "workflow_type_id": "customer_thank_you", "inputs": {}},
        {"command": "notification.send", "message": "Low product count"},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for number, command in enumerate(commands, start=2):
            response = post_command(client, store, command, f"execution_{number}")
            assert response.status_code == 200, response.content
    outcomes = dict(DemoCommand.objects.exclude(outcome="rejected").values_list("command", "outcome"))
    assert outcomes == {c["command"]: "applied" for c in commands[:-1]} | {"notification.send": "recorded"}
    # add_product raised the count through the ingestion path: product_added events and a product_count sample
    assert count(store) == 5
    added = Event.objects.filter(tenant_id=store.tenant_id, event_type="product_added")
    assert sorted(e.payload["product_id"] for e in added) == ["prod_0004", "prod_0005"]
    latest = MetricSample.objects.filter(tenant_id=store.tenant_id, metric="product_count").latest("id")
    assert latest.value == 5
    assert DemoStoreItem.objects.get(store=store, key="prod_0001").details["price"] == 12
    store.refresh_from_db()
    assert store.settings == {"homepage_banner": "rotate"}
    kinds = set(DemoStoreItem.objects.filter(store=store).exclude(kind="product").values_list("kind", flat=True))
    assert kinds == {"page", "campaign", "draft", "workflow"}

    # a redelivery of the same webhook-id is answered and not applied again
    response = post_command(client, store, commands[0], "execution_2")
    assert response.status_code == 200 and response.json()["outcome"] == "duplicate"
    assert count(store) == 5


def test_add_product_brings_the_count_back_so_low_product_alert_crosses_again(
    db, client, demo_settings, django_capture_on_commit_callbacks
):
    # given the seeded demo tenant and its store, the store active
    call_command("seed_demo", stdout=io.StringIO())
    tenant = Tenant.objects.get(pk="tenant_demo")
    store = demo_store_open(tenant, SERVER)
    alert = AutomationRule.objects.get(tenant=tenant, name="Low Product Alert")
    simulator = DemoStoreSimulator(store, seed=1)
    with django_capture_on_commit_callbacks(execute=True):
        simulator.step()  # the opening: store active, product_count 3
    alerts = AutomationExecution.objects.filter(automation_rule=alert)

    # when the store sells down under 3, the alert fires once
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            demo_product_remove(store, demo_products(store)[0].key)
    assert alerts.count() == 1

    # when the council's restock arrives as a webhook, the count is back at 4
    with django_capture_on_commit_callbacks(execute=True):
        post_command(client, store, {"command": "product.add", "count": 3, "template_id": "restock"}, "execution_90")
    assert count(store) == 4 and alerts.count() == 1

    # then selling down again crosses again
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            demo_product_remove(store, demo_products(store)[0].key)
    assert alerts.count() == 2


def lines_of(tenant_id: str, seed: int, steps: int) -> list[list[str]]:
    store = demo_store_open(make_tenant(tenant_id), SERVER)
    simulator = DemoStoreSimulator(store, seed)
    return [simulator.step() for _ in range(steps)]


def test_the_simulator_is_deterministic_with_a_seed_and_bounded_per_step(demo_settings, tenant):
    # given two stores in the same state and one seed
    first = lines_of("tenant_sim_a", 7, 30)
    second = lines_of("tenant_sim_b", 7, 30)
    # then they do the same steps; another seed does not
    assert first == second
    assert lines_of("tenant_sim_c", 8, 30) != first
    # and every step made at most MAX_ITEMS_PER_STEP events and samples
    store = demo_store_open(tenant, SERVER)
    simulator = DemoStoreSimulator(store, 7)
    for _ in range(30):
        before = Event.objects.count() + MetricSample.objects.count()
        simulator.step()
        assert Event.objects.count() + MetricSample.objects.count() - before <= MAX_ITEMS_PER_STEP
    kinds = set(Event.objects.filter(tenant=tenant).values_list("event_type", flat=True))
    metrics = set(MetricSample.objects.filter(tenant=tenant).values_list("metric", flat=True))
    assert {"product_added", "product_removed", "cart_updated", "order_placed", "product_viewed"} <= kinds
    assert {"product_count", "store_traffic", "conversion_rate", "store_status"} <= metrics
    conversion = MetricSample.objects.filter(tenant=tenant, metric="conversion_rate").values_list("value_number")
    assert min(conversion)[0] < 2 < max(conversion)[0]  # drifts across the demo's 2 % threshold


def test_run_waits_the_interval_between_steps_and_stops_when_asked(store):
    stop = threading.Event()
    waits: list[float] = []

    def wait(seconds: float) -> bool:  # what stop.wait does, without the clock
        waits.append(seconds)
        if len(waits) == 4:
            stop.set()
        return stop.is_set()

    simulator = DemoStoreSimulator(store, 3)
    assert run_simulator(simulator, stop, interval=2.5, wait=wait) == 4
    assert waits == [2.5] * 4 and simulator.steps == 4
    with pytest.raises(ValueError, match="at least"):
        run_simulator(simulator, threading.Event(), interval=MIN_INTERVAL_SECONDS / 2)


def test_the_demo_store_page_shows_the_tenants_own_store_only(client, store, owner, other_owner):
    DemoCommand.objects.create(store=store, webhook_id="execution_77", command="product.add", outcome="applied")
    client.force_login(owner)
    page = client.get("/portal/demo-store").content.decode()
    assert "execution_77" in page and "prod_0001" in page and "Demo store" in page
    client.force_login(other_owner)
    page = client.get("/portal/demo-store").content.decode()
    assert "has no demo store" in page and "execution_77" not in page and "prod_0001" not in page
    assert 'href="/portal/demo-store"' not in page  # no nav link for a tenant without one


def test_production_settings_never_allow_loopback_webhooks():
    code = (
        "import django; django.setup(); from automations.conf import app_settings; "
        "from django.conf import settings; print(app_settings.WEBHOOK_ALLOW_LOOPBACK, settings.DEMO_STORE)"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 50,
        "AUTOMATIONS_WEBHOOK_ALLOW_LOOPBACK": "true",
        "DEMO_STORE": "on",
        "PATH": "/usr/bin:/bin",
    }
    env["AUTOMATIONS_VAR_DIR"] = str(django_settings.VAR_DIR)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=django_settings.BASE_DIR
    )
    assert result.stdout.split()[-2:] == ["False", "False"], result.stderr[-2000:]


@pytest.mark.slow
def test_make_run_starts_the_demo_store_and_ctrl_c_stops_it(tmp_path):
    from tests.executions.test_serve import alive, install, start_serve, started_pids, stop
    from tests.executions.workers import wait_for

    # given make run's install with the demo store on (as the local settings have it)
    serve, _base, log_path = start_serve(install(tmp_path, DEMO_STORE="on"), tmp_path, "--concurrency", "1")
    database = tmp_path / "db.sqlite3"

    def rows(sql: str) -> list[tuple]:
        with sqlite3.connect(database, timeout=30) as db:
            return db.execute(sql).fetchall()

    try:
        # then the demo store runs beside web, worker and beat
        wait_for(lambda: "demo" in started_pids(log_path), timeout=60, message="the demo child")
        # and the store's activity comes back as verified webhooks, and the sell-out waits for the council
        applied = "SELECT count(*) FROM demo_commands WHERE outcome = 'applied'"
        wait_for(lambda: rows(applied)[0][0] > 0, timeout=120, message="a verified, applied webhook")
        waiting = "SELECT count(*) FROM automation_approval_requests WHERE status = 'pending'"
        wait_for(lambda: rows(waiting)[0][0] > 0, timeout=120, message="an approval for the council")
        sources = {row[0] for row in rows("SELECT DISTINCT trigger_source FROM automation_executions")}
        assert {"event", "threshold", "behavior"} <= sources
        pids = {name: found[-1] for name, found in started_pids(log_path).items()}

        # when Ctrl-C, every child stops, the demo store too
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0, log_path.read_text()[-3000:]
        wait_for(lambda: not any(alive(pid) for pid in pids.values()), timeout=10, message="every child to exit")
        assert "demo store stopped after" in log_path.read_text()
    finally:
        stop(serve)
