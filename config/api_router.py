"""Every API route, under /api/. Each path answers with and without a trailing slash."""

from django.urls import re_path

from executions.api.views import ApprovalListView, EventIngestView, ExecutionApproveView, ExecutionRejectView

urlpatterns = [
    re_path(r"^events/?$", EventIngestView.as_view(), name="api-events"),
    re_path(r"^approvals/?$", ApprovalListView.as_view(), name="api-approvals"),
    re_path(
        r"^executions/(?P<execution_id>[0-9]+)/approve/?$", ExecutionApproveView.as_view(), name="api-execution-approve"
    ),
    re_path(
        r"^executions/(?P<execution_id>[0-9]+)/reject/?$", ExecutionRejectView.as_view(), name="api-execution-reject"
    ),
]
