from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from config.site_views import favicon, portal_not_found

handler400 = "governance.common.api_errors.json_or_default_400"
handler403 = "governance.common.api_errors.json_or_default_403"
handler404 = "governance.common.api_errors.json_or_default_404"
handler500 = "governance.common.api_errors.json_or_default_500"

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/dashboard", permanent=False)),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The service: API, portal, probes and metrics, as a host project includes it (docs/embedding.md).
    path("", include("executions.service_urls")),
    # Last: any other /portal/ address is the styled 404, DEBUG or not.
    re_path(r"^portal/(?P<rest>.*)$", portal_not_found),
]
