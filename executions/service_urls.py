"""Every address of the service, for one ``include()``: the REST API under ``api/``, the portal's pages under
``portal/``, the probes (``healthz``, ``readyz``) and the Prometheus scrape (``metrics``).

This repository's project includes it at the root (``config/urls.py``); a host project includes it under a
prefix of its choice, e.g. ``path("automations/", include("executions.service_urls"))`` (docs/embedding.md).
The demo store's receiver and page come along only where ``executions.demo`` is installed.
"""

from django.apps import apps
from django.urls import include, path

import governance.common.url_converters  # noqa: F401  (registers <id:…> and <key:…>)
from executions.health import healthz, readyz
from executions.monitoring import metrics
from governance.views import tenant_switch

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/", include("executions.api.router", namespace="api")),
    path("portal/tenant", tenant_switch, name="tenant-switch"),
]

if apps.is_installed("executions.demo"):
    from executions.demo.views import demo_receiver, demo_store_page

    urlpatterns += [
        # The demo store (docs/demo.md): its receiver is the demo tenant's webhook endpoint; its page is the portal's.
        path("demo-store/<key:tenant_id>/webhook", demo_receiver, name="demo-receiver"),
        path("portal/demo-store", demo_store_page, name="demo-store"),
    ]

urlpatterns += [
    path("portal/", include("executions.portal_urls")),
    path("portal/", include("executions.urls")),
]
