"""Signed webhook delivery of platform commands: endpoints, SSRF-safe HTTP, retries kept in the database.

Public entry points live in ``executions.delivery.services`` (writes) and ``executions.delivery.selectors``
(reads); ``signing`` holds the Standard Webhooks signature and its receiver-side ``verify``.
"""
