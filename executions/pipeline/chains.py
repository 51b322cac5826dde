"""Loop protection that knows the chain: a rule runs at most once per subject within one causal chain.

An event an action caused carries ``caused_by_execution`` (checked at emit time: an execution of the same
tenant) and ``causation_depth``. The chain of an event is that execution, the event that triggered it, the
execution that caused that event, and so on to the root, read from the stored rows (never from payload
fields) and at most ``AUTOMATIONS["MAX_CAUSATION_DEPTH"]`` + 1 links long (deeper events are blocked by the
depth cap anyway).

The **subject** of a run is what its triggering event is about: the event's ``customer_id``; else the first
of ``AUTOMATIONS["CHAIN_SUBJECT_KEYS"]`` (default ``["product_id"]``) present in its payload as a string or
number; else none, which stands for the rule alone. A run not triggered by an event (a manual run, a
schedule, ...) takes its subject from its stored ``trigger_data`` the same way.

A new execution of rule R for an event whose chain already holds an execution of R with the same subject
is stored ``blocked`` with failure kind ``chain_loop`` and a reason naming that earlier execution.
"""

from __future__ import annotations

from dataclasses import dataclass

from automations.conf import app_settings
from executions.models import AutomationExecution, Event

CHAIN_LOOP_LEAD = "chain loop: "


@dataclass(frozen=True)
class ChainLink:
    """One execution earlier in an event's causal chain: its rule and its subject."""

    execution_id: int
    rule_id: str
    subject: str | None  # "customer_id c_1", "product_id p_9", or None: the rule alone


def subject_of(customer_id: object, data: object) -> str | None:
    """The subject of a run: ``customer_id``, else the first subject key in ``data``, else None."""
    if isinstance(customer_id, str) and customer_id:
        return f"customer_id {customer_id}"
    if isinstance(data, dict):
        if isinstance(data.get("customer_id"), str) and data["customer_id"]:
            return f"customer_id {data['customer_id']}"
        for key in app_settings.CHAIN_SUBJECT_KEYS:
            value = data.get(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
                return f"{key} {value}"
    return None


def event_subject(event: Event) -> str | None:
    return subject_of(event.customer_id, event.payload)


def causal_chain(event: Event) -> list[ChainLink]:
    """The executions earlier in ``event``'s chain, nearest first (one query per link, bounded by the depth cap)."""
    links: list[ChainLink] = []
    cause_id = event.caused_by_execution_id
    seen: set[int] = set()
    for _ in range(int(app_settings.MAX_CAUSATION_DEPTH) + 1):
        if cause_id is None or cause_id in seen:
            break
        seen.add(cause_id)
        row = (
            AutomationExecution.objects.filter(pk=cause_id, tenant_id=event.tenant_id)
            .values(
                "automation_rule_id",
                "trigger_data",
                "event_id",
                "event__customer_id",
                "event__payload",
                "event__caused_by_execution_id",
            )
            .first()
        )
        if row is None:  # pruned by the history retention: the chain is known up to here
            break
        if row["event_id"] is not None:
            subject = subject_of(row["event__customer_id"], row["event__payload"])
        else:
            subject = subject_of(None, row["trigger_data"])
        links.append(ChainLink(cause_id, row["automation_rule_id"], subject))
        cause_id = row["event__caused_by_execution_id"]
    return links


def chain_loop_reason(rule_id: str, rule_name: str, event: Event, chain: list[ChainLink]) -> str:
    """Why rule ``rule_id`` must not run again for ``event`` ("" when it may): it already ran for the same
    subject earlier in the event's chain."""
    subject = event_subject(event)
    for link in chain:
        if link.rule_id == rule_id and link.subject == subject:
            about = f"for {subject}" if subject is not None else "(the event names no subject, so the rule alone)"
            return (
                f'{CHAIN_LOOP_LEAD}the rule "{rule_name}" already ran {about} earlier in this chain of actions, '
                f"as execution #{link.execution_id}; event #{event.pk} was caused by execution "
                f"#{event.caused_by_execution_id}"
            )
    return ""
