"""Content Security Policy: the header is sent, and the portal, the admin and the API docs work under it
in Chromium with no violation and no console error."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.utils import quote
from playwright.sync_api import expect

from executions.services import execute_rule_manually
from tests.factories import make_rule

# Listens in the page before any of its scripts run, so a violation during parsing is caught too.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI} at ${where}`);
});
"""


def header_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
def test_pages_send_the_policy(client, owner):
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(owner)
    for url in ("/portal/automations", "/admin/", "/api/docs/", "/accounts/login/"):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = header_directives(response["Content-Security-Policy"])
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]
        assert "'unsafe-eval'" not in policy["script-src"]
    # a page that writes a nonce announces it; a nonce is new for every response
    first = header_directives(client.get("/api/docs/")["Content-Security-Policy"])["script-src"]
    second = header_directives(client.get("/api/docs/")["Content-Security-Policy"])["script-src"]
    assert first[0] == "'self'" and first[1].startswith("'nonce-") and first[1] != second[1]


@pytest.mark.django_db
def test_api_json_answers_carry_the_policy_too(client, owner):
    client.force_login(owner)
    response = client.get("/api/automations", HTTP_ACCEPT="application/json")
    assert "default-src 'self'" in response["Content-Security-Policy"]


class Watched:
    """A page whose CSP violations, console errors and failed requests are collected."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.failed: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        # Chromium asks for /favicon.ico, which this site does not serve; that 404 is not a page's fault.
        page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        page.on("console", lambda message: message.type in ("error", "warning") and self.console.append(message.text))
        page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url}: {request.failure}"))

    def visit(self, url: str) -> Any:
        response = self.page.goto(url)
        assert response.status == 200, url
        assert "Content-Security-Policy" in {name.title(): 1 for name in response.headers}
        self.page.wait_for_load_state("networkidle")
        return response

    def assert_clean(self, where: str) -> None:
        violations = self.page.evaluate("window.__cspViolations")
        assert violations == [], where
        assert self.console == [], where
        assert self.failed == [], where


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_portal_pages_work_under_the_policy(page_for, tenant, owner, council_member):
    # given a rule with an execution awaiting approval and a notification about it
    rule = make_rule(tenant, owner, name="Critical Alert", risk_level="critical")
    execution = execute_rule_manually(rule, {"store_status": "active", "product_count": 2}, owner)
    watched = Watched(page_for(owner))
    pages = [
        "/portal/dashboard",
        "/portal/automations",
        "/portal/automations/recommendations",
        "/portal/automations/builder/new",
        f"/portal/automations/builder/{rule.pk}",
        f"/portal/automations/{rule.pk}",
        f"/portal/automations/{rule.pk}/executions/{execution.pk}",
        "/portal/approvals",
        "/portal/notifications",
        "/portal/settings/webhooks",
    ]
    for url in pages:
        watched.visit(url)
        watched.assert_clean(url)
    # the builder's htmx summary updates as the form changes (htmx and portal.js both run)
    page = watched.page
    page.goto("/portal/automations/builder/new")
    page.get_by_label("Name", exact=True).fill("Low stock")
    page.locator("label[for=trigger-threshold]").click()
    page.get_by_label("Metric").fill("product_count")
    page.locator("#f-t_operator").select_option("<")
    page.locator("#f-t_value").fill("3")
    expect(page.locator("[data-summary]")).to_contain_text("When product count drops below 3")
    page.get_by_role("button", name="Add Condition").click()
    page.locator("#cond-0-type").fill("store_status")
    page.locator("#cond-0-operator").select_option("=")
    page.locator("#cond-0-value").fill("active")
    expect(page.locator("[data-summary-conditions]")).to_have_text("Store is active")
    page.locator("#f-sample_context").fill('{"store_status": "active", "product_count": 2}')
    page.get_by_role("button", name="Test Conditions").click()
    expect(page.locator("[data-condition-result='0']")).to_have_attribute("data-passed", "true")  # the threshold
    expect(page.locator("[data-condition-result='1']")).to_have_attribute("data-passed", "true")
    watched.assert_clean("builder after htmx updates")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_tenant_switch_submits_on_change_without_inline_script(page_for, tenant, other_tenant, owner):
    from governance.services import membership_set

    membership_set(other_tenant, owner, "owner")
    watched = Watched(page_for(owner))
    watched.visit("/portal/automations")
    watched.page.locator("#tenant-switch").select_option("tenant_other")
    watched.page.wait_for_load_state("networkidle")
    expect(watched.page.locator("#tenant-switch")).to_have_value("tenant_other")
    watched.assert_clean("tenant switch")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_admin_works_under_the_policy(page_for, tenant, owner, rule):
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    watched = Watched(page_for(owner))
    change = f"/admin/automations/automationrule/{quote(rule.pk)}/change/"  # the admin escapes "_" in ids
    for url in ("/admin/", change, "/admin/governance/council/add/"):
        watched.visit(url)
        watched.assert_clean(url)
    # the admin's own scripts ran: the add form's inline rows (council seats)
    watched.visit("/admin/governance/council/add/")
    watched.page.get_by_text("Add another Council member").click()
    expect(watched.page.locator("#memberships-group tr.form-row:not(.empty-form)")).to_have_count(1)
    watched.assert_clean("admin inline add")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_api_docs_work_under_the_policy(page_for, owner):
    watched = Watched(page_for(owner))
    watched.visit("/api/docs/")
    # Swagger UI rendered the schema's operations
    expect(watched.page.locator(".opblock-summary-path").first).to_be_visible()
    expect(watched.page.locator(".swagger-ui .info .title")).to_contain_text("Automation rules API")
    watched.assert_clean("/api/docs/")
