from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from governance.views import tenant_switch

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/automations", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_router")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal/tenant", tenant_switch, name="tenant-switch"),
    path("portal/", include("automations.urls")),
    path("portal/", include("executions.urls")),
]
