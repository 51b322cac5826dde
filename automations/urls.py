from django.urls import path

import governance.common.url_converters  # noqa: F401  (registers <id:…> and <key:…>)
from automations import views

app_name = "automations"

# The rule pages that show executions (details, Run now, one execution) are executions.rule_pages'; the
# project serves both lists in this namespace (executions/portal_urls.py).

urlpatterns = [
    path("automations", views.rule_list, name="list"),
    path("automations/recommendations", views.recommendations, name="recommendations"),
    path("automations/builder/new", views.builder_new, name="builder-new"),
    path("automations/builder/summary", views.builder_summary, name="builder-summary"),
    path("automations/builder/test", views.builder_test, name="builder-test"),
    path("automations/builder/<key:rule_id>", views.builder_edit, name="builder-edit"),
    path("automations/builder/<key:rule_id>/delete", views.builder_delete, name="builder-delete"),
    path("automations/<key:rule_id>/toggle", views.rule_toggle, name="toggle"),
    path("automations/<key:rule_id>/enabled", views.rule_set_enabled_view, name="set-enabled"),
    path("automations/<key:rule_id>/test", views.rule_test, name="test"),
    path("automations/<key:rule_id>/go-live", views.rule_go_live, name="go-live"),
    path(
        "automations/<key:rule_id>/versions/<int:number>/restore",
        views.rule_restore_version_view,
        name="restore-version",
    ),
]
