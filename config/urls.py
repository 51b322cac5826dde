from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

handler400 = "config.api_errors.json_or_default_400"
handler403 = "config.api_errors.json_or_default_403"
handler404 = "config.api_errors.json_or_default_404"
handler500 = "config.api_errors.json_or_default_500"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_router", namespace="api")),
]
