from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from config.site_views import favicon, portal_not_found
from executions.health import healthz, readyz
from executions.monitoring import metrics
from governance.views import tenant_switch

handler400 = "config.api_errors.json_or_default_400"
handler403 = "config.api_errors.json_or_default_403"
handler404 = "config.api_errors.json_or_default_404"
handler500 = "config.api_errors.json_or_default_500"

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/dashboard", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("favicon.ico", favicon, name="favicon"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_router", namespace="api")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal/tenant", tenant_switch, name="tenant-switch"),
    path("portal/", include("config.portal_urls")),
    path("portal/", include("executions.urls")),
    # Last: any other /portal/ address is the styled 404, DEBUG or not.
    re_path(r"^portal/(?P<rest>.*)$", portal_not_found),
]
