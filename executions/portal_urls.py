"""The ``automations`` namespace of the portal: the rules' own pages and those that show their executions
(``executions.rule_pages``), joined here, where both apps may be imported (an app imports only downward)."""

from automations.urls import urlpatterns as rule_urlpatterns
from executions.rule_pages import urlpatterns as rule_page_urlpatterns

app_name = "automations"

urlpatterns = [*rule_urlpatterns, *rule_page_urlpatterns]
