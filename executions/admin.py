"""Admin registrations of the executions app."""

from executions.delivery import admin as delivery_admin  # noqa: F401  (registers endpoints and deliveries)
