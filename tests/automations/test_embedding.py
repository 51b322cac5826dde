"""The service embedded in a host Django project (docs/embedding.md).

``service_settings`` completes a host's settings without dropping its choices, and this repository's
own settings agree with what a host gets. End to end: the wheel built from this repository is installed
into a throwaway virtualenv beside a scratch host project with a ``shop.Product`` model; saving a product
runs the rule on a real Celery worker and its signed webhook reaches a real local HTTP sink.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest
from django.conf import settings

from automations.embedding import CELERY_SETTINGS, PROJECT_DEFAULTS, SERVICE_APPS, service_settings
from executions.delivery.signing import verify
from executions.worker import QUEUES
from tests.executions.delivery.sink import Sink
from tests.services import missing_service

REPO = Path(settings.BASE_DIR)
# This virtualenv's pip, never reaching a package index.
PIP_OFFLINE = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
WORKER_OPTIONS = [
    "--concurrency",
    "1",
    "--loglevel",
    "INFO",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
]


def test_service_settings_complete_a_host_without_dropping_its_choices():
    host = {
        "INSTALLED_APPS": ["django.contrib.auth", "rest_framework", "shop"],
        "TEMPLATES": [{"BACKEND": "django.template.backends.django.DjangoTemplates", "OPTIONS": {}}],
        "CELERY_TASK_TIME_LIMIT": 30,
        "REST_FRAMEWORK": {"NUM_PROXIES": 1},
    }

    values = service_settings(host)

    assert values["INSTALLED_APPS"][:3] == ["django.contrib.auth", "rest_framework", "shop"]
    assert set(SERVICE_APPS) <= set(values["INSTALLED_APPS"]) and values["INSTALLED_APPS"].count("rest_framework") == 1
    assert values["TEMPLATES"][0]["APP_DIRS"] is True
    assert "executions.context_processors.portal" in values["TEMPLATES"][0]["OPTIONS"]["context_processors"]
    assert host["TEMPLATES"][0]["OPTIONS"] == {}  # the host's own list is not changed in place
    assert "CELERY_TASK_TIME_LIMIT" not in values and values["CELERY_TASK_ACKS_LATE"] is True
    assert values["REST_FRAMEWORK"]["NUM_PROXIES"] == 1
    assert values["REST_FRAMEWORK"]["EXCEPTION_HANDLER"] == "governance.common.api_errors.api_exception_handler"
    assert "throttle" in values["CACHES"]


def test_this_projects_settings_are_what_a_host_gets():
    # Environment overrides aside (the time limits), config/settings/base.py runs the service as a host would.
    for name, value in {**CELERY_SETTINGS, **PROJECT_DEFAULTS}.items():
        if name in {"CELERY_TASK_SOFT_TIME_LIMIT", "CELERY_TASK_TIME_LIMIT"} and name in os.environ:
            continue
        assert getattr(settings, name) == value, name
    assert set(SERVICE_APPS) <= set(settings.INSTALLED_APPS)


# --- end to end ---------------------------------------------------------------------------------------

HOST_FILES = {
    "manage.py": """
        import os, sys
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostproject.settings")
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)
    """,
    "hostproject/__init__.py": """
        from hostproject.celery import app as celery_app

        __all__ = ("celery_app",)
    """,
    "hostproject/celery.py": """
        import os

        from celery import Celery

        from governance.common.kombu_fixes import atomic_filesystem_messages

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostproject.settings")
        atomic_filesystem_messages()
        app = Celery("hostproject")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.autodiscover_tasks()
    """,
    "hostproject/settings.py": """
        from pathlib import Path

        from automations.embedding import service_settings

        BASE_DIR = Path(__file__).resolve().parent.parent
        SECRET_KEY = "a-host-project"
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        INSTALLED_APPS = [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "shop",
        ]
        MIDDLEWARE = [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ]
        ROOT_URLCONF = "hostproject.urls"
        TEMPLATES = [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ]
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": BASE_DIR / "db.sqlite3",
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 5},
            }
        }
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        USE_TZ = True
        STATIC_URL = "static/"
        CELERY_BROKER_URL = "filesystem://"
        CELERY_BROKER_TRANSPORT_OPTIONS = {
            "data_folder_in": str(BASE_DIR / "broker"),
            "data_folder_out": str(BASE_DIR / "broker"),
            "control_folder": str(BASE_DIR / "broker-control"),
            "store_processed": False,
            "polling_interval": 0.05,
        }

        # --- the automation rules service (docs/embedding.md)
        AUTOMATIONS = {
            "MODEL_EVENTS": {
                "shop.Product": {"post_save": "product_added", "tenant": "shop.tenancy.tenant_of", "source": "store"}
            },
            "WEBHOOK_ALLOW_LOOPBACK": True,  # the test's sink listens on 127.0.0.1
        }
        globals().update(service_settings(globals()))
    """,
    "hostproject/urls.py": """
        from django.contrib import admin
        from django.urls import include, path

        urlpatterns = [
            path("admin/", admin.site.urls),
            path("accounts/", include("django.contrib.auth.urls")),
            path("automations/", include("executions.service_urls")),
        ]
    """,
    "shop/__init__.py": "",
    "shop/models.py": """
        from django.db import models


        class Product(models.Model):
            store = models.CharField(max_length=50)
            name = models.CharField(max_length=100)
            price = models.DecimalField(max_digits=8, decimal_places=2)
    """,
    "shop/tenancy.py": """
        def tenant_of(product):
            return f"shop_{product.store}"
    """,
    "shop/migrations/__init__.py": "",
    "shop/migrations/0001_initial.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel(
                    name="Product",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                        ("store", models.CharField(max_length=50)),
                        ("name", models.CharField(max_length=100)),
                        ("price", models.DecimalField(decimal_places=2, max_digits=8)),
                    ],
                ),
            ]
    """,
    # What the test does in the host, each a script run by the virtualenv's Python: migrate and set up a
    # tenant's rule and webhook endpoint; then save a product and report what became of it.
    "prepare.py": """
        import json, sys

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from automations.services import rule_create
        from executions.delivery.services import endpoint_create
        from governance.services import tenant_get_or_create

        tenant = tenant_get_or_create("shop_main", "Main street shop")
        rule = rule_create(tenant, {
            "name": "Stock the new product's shelf",
            "trigger_type": "event",
            "trigger_config": {"event_type": "product_added", "source": "store"},
            "conditions": [{"type": "price", "operator": ">", "value": 10}],
            "action_type": "add_product",
            "action_config": {"template_id": "shelf_label", "count": 1, "category": "new"},
        })
        created = endpoint_create(tenant, sys.argv[1])
        print(json.dumps({"rule_id": rule.pk, "secret": created.secret}))
    """,
    "save_product.py": """
        import json, time

        import django

        django.setup()
        import executions
        from django.contrib.auth import get_user_model
        from django.db import transaction
        from django.test import Client

        from executions.models import AutomationExecution
        from governance.services import membership_set, tenant_get_or_create
        from shop.models import Product

        with transaction.atomic():
            Product.objects.create(store="main", name="Desk lamp", price="19.90")

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            execution = AutomationExecution.objects.select_related("event", "automation_rule").first()
            if execution is not None and execution.status in ("succeeded", "failed"):
                break
            time.sleep(0.1)
        owner = get_user_model().objects.create_user("owner", password="pw")
        membership_set(tenant_get_or_create("shop_main"), owner, "owner")
        client = Client()
        client.force_login(owner)
        page = client.get("/automations/portal/automations")
        api = client.get("/automations/api/automations")
        print(json.dumps({
            "installed_at": executions.__file__,
            "status": execution.status if execution else None,
            "rule": execution.automation_rule.name if execution else None,
            "event": execution and [execution.event.event_type, execution.event.tenant_id, execution.event.payload],
            "page": [page.status_code, "Stock the new product" in page.content.decode()],
            "api": [api.status_code, "Stock the new product" in api.content.decode()],
        }, default=str))
    """,
}


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _throwaway_virtualenv(folder: Path, wheel: Path) -> Path:
    """A virtualenv with the wheel installed and, through a .pth file, this one's dependencies (no download)."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(folder)], folder.parent, dict(os.environ))
    python = folder / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], folder, {})
    Path(purelib.strip(), "host_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [*PIP_OFFLINE, "--python", str(python), "install", "--no-index", "--no-deps", str(wheel)],
        folder.parent,
        dict(os.environ),
    )
    return python


@pytest.mark.slow
def test_a_host_project_installs_the_wheel_and_its_product_saves_run_rules(tmp_path):
    if importlib.util.find_spec("hatchling") is None:
        missing_service("hatchling, the build backend, is not installed (pip install -r requirements.txt)")
    # given: the wheel, a virtualenv with it, and a host project beside them
    _run(
        [
            *PIP_OFFLINE,
            "wheel",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        tmp_path,
        dict(os.environ),
    )
    wheel = next((tmp_path / "dist").glob("automation_rules-*.whl"))
    python = _throwaway_virtualenv(tmp_path / "venv", wheel)
    host = tmp_path / "host"
    for name, text in HOST_FILES.items():
        (host / name).parent.mkdir(parents=True, exist_ok=True)
        (host / name).write_text(textwrap.dedent(text).lstrip())
    for folder in ("broker", "broker-control"):
        (host / folder).mkdir()
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}} | {
        "DJANGO_SETTINGS_MODULE": "hostproject.settings",
        "PYTHONUNBUFFERED": "1",
    }
    sink = Sink().start()
    worker = None
    try:
        # The worker starts while the host migrates; it has nothing to do before a product is saved.
        worker = subprocess.Popen(
            [str(python), "-m", "celery", "-A", "hostproject", "worker", "-Q", ",".join(QUEUES), *WORKER_OPTIONS],
            cwd=host,
            env=env,
            stdout=(tmp_path / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        created = json.loads(_run([str(python), "prepare.py", sink.url()], host, env))
        deadline = time.monotonic() + 60
        while b" ready." not in (tmp_path / "worker.log").read_bytes():
            assert worker.poll() is None and time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)

        # when: the host saves a product (and waits for the execution to end)
        report = json.loads(_run([str(python), "save_product.py"], host, env))
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
        sink.close()

    # then: the rule ran on the worker and its webhook reached the sink, signed with the endpoint's secret
    worker_log = (tmp_path / "worker.log").read_text()[-4000:]
    assert report["status"] == "succeeded" and report["rule"] == "Stock the new product's shelf", worker_log
    assert len(sink.requests) == 1, worker_log
    request = sink.requests[0]
    verify(created["secret"], request.headers, request.body)
    envelope = json.loads(request.body)
    assert envelope["type"] == "automation.action.add_product" and envelope["data"]["rule_id"] == created["rule_id"]
    assert report["installed_at"].startswith(str(tmp_path / "venv"))  # the wheel's apps, not this checkout's
    event_type, tenant_id, payload = report["event"]
    assert (event_type, tenant_id) == ("product_added", "shop_main")
    assert payload["name"] == "Desk lamp" and payload["model"] == "shop.product"
    assert report["page"] == [200, True]  # the portal's templates came with the wheel
    assert report["api"] == [200, True]
