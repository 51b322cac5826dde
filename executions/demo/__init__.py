"""The demo store (``make run``): a tiny shop that produces the demo tenant's activity and receives its webhooks.

- ``simulator``: a seeded, rate-bounded stream of what a small shop generates (products, metrics, customers),
  through the ingestion services the API calls; ``manage.py demo_store`` runs it under ``serve``.
- ``receiver``: the demo tenant's webhook endpoint; verifies each signed webhook and applies its command
  to the store (``store``), so an ``add_product`` raises the product count.
- ``views``: the portal's "Demo store" page.

A Django app of its own (label ``demo_store``) inside ``executions``, so ``executions.models`` does not
import it: it sits above the ingestion services it calls. docs/demo.md describes it.
"""
