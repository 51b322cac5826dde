"""Signals the rule services send, for the apps above ``automations`` to act on (STYLE.md §1: a lower
app hands news up through a signal instead of importing the higher one)."""

from django.dispatch import Signal

# Sent inside the archiving transaction, with ``rule`` and ``user`` (None: the system).
rule_archived = Signal()
