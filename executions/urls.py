from django.urls import path

import governance.common.url_converters  # noqa: F401  (registers <id:…> and <key:…>)
from executions import views

app_name = "executions"

urlpatterns = [
    path("dashboard", views.dashboard, name="dashboard"),
    path("activity", views.activity, name="activity"),
    path("approvals", views.approval_list, name="approvals"),
    path("approvals/<id:approval_id>/<str:decision>", views.approval_decide, name="approval-decide"),
    path("notifications", views.notification_list, name="notifications"),
    path("notifications/read", views.notification_read, name="notification-read"),
    path("settings/webhooks", views.webhook_settings, name="webhooks"),
    path("settings/webhooks/new", views.webhook_create, name="webhook-create"),
    path("settings/webhooks/<id:endpoint_id>/rotate", views.webhook_rotate, name="webhook-rotate"),
    path(
        "settings/webhooks/<id:endpoint_id>/trigger-payload",
        views.webhook_trigger_payload,
        name="webhook-trigger-payload",
    ),
    path("settings/webhooks/deliveries/<id:delivery_id>/redeliver", views.webhook_redeliver, name="webhook-redeliver"),
]
