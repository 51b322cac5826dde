from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

import automations_common.url_converters  # noqa: F401  (registers <id:…> and <key:…>)
from config.site_views import favicon, portal_not_found
from executions.demo.views import demo_receiver, demo_store_page
from executions.health import healthz, readyz
from executions.monitoring import metrics
from governance.views import tenant_switch

handler400 = "automations_common.api_errors.json_or_default_400"
handler403 = "automations_common.api_errors.json_or_default_403"
handler404 = "automations_common.api_errors.json_or_default_404"
handler500 = "automations_common.api_errors.json_or_default_500"

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/automations", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("favicon.ico", favicon, name="favicon"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("executions.api.router", namespace="api")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal/tenant", tenant_switch, name="tenant-switch"),
    # The demo store (docs/demo.md): its receiver is the demo tenant's webhook endpoint; its page is the portal's.
    path("demo-store/<key:tenant_id>/webhook", demo_receiver, name="demo-receiver"),
    path("portal/demo-store", demo_store_page, name="demo-store"),
    path("portal/", include("executions.portal_urls")),
    path("portal/", include("executions.urls")),
    # Last: any other /portal/ address is the styled 404, DEBUG or not.
    re_path(r"^portal/(?P<rest>.*)$", portal_not_found),
]
