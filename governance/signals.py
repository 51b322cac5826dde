"""Signals the governance services send, for the apps above ``governance`` to act on."""

from django.dispatch import Signal

# Sent when a tenant's time zone changed, with ``tenant``: its schedule rules need their next slot again.
tenant_zone_changed = Signal()
