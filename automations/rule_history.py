"""A rule's history, read: its versions with what each changed (field by field and in plain English), and
the times it was turned on, off or archived. Restoring a version is ``services.rule_restore_version``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automations.choices import ContactCap, WhenCapped
from automations.conditions.values import show
from automations.models import DEFINITION_FIELDS, AutomationRule, RuleStateChange, RuleVersion
from automations.services import version_definition
from automations.summaries import RuleSummary, quote, summarize_rule
from governance.models import Council

MODE_WORDS = {"live": "live (it acts)", "shadow": "shadow (it only logs what it would do)"}


@dataclass(frozen=True)
class Aspect:
    """A part of a rule a person thinks of as one thing (the trigger is its type and its settings)."""

    key: str
    label: str
    fields: tuple[str, ...]
    words: Callable[[dict[str, Any], RuleSummary], str]


def _quoted(field: str) -> Callable[[dict[str, Any], RuleSummary], str]:
    def words(definition: dict[str, Any], summary: RuleSummary) -> str:
        value = definition.get(field)
        return quote(str(value)) if value not in (None, "") else "empty"

    return words


ASPECTS: tuple[Aspect, ...] = (
    Aspect("name", "Name", ("name",), _quoted("name")),
    Aspect("description", "Description", ("description",), _quoted("description")),
    Aspect("category", "Category", ("category",), _quoted("category")),
    Aspect("trigger", "Trigger", ("trigger_type", "trigger_config"), lambda d, s: s.trigger_description),
    Aspect("conditions", "Conditions", ("conditions",), lambda d, s: s.conditions_description or "none"),
    Aspect("action", "Action", ("action_type", "action_config"), lambda d, s: s.action_description),
    Aspect(
        "governance",
        "Approval",
        ("risk_level", "requires_approval", "assigned_council_id", "auto_approval_rules"),
        lambda d, s: s.governance_description,
    ),
    Aspect("mode", "Mode", ("mode",), lambda d, s: MODE_WORDS.get(str(d.get("mode") or "live"), str(d.get("mode")))),
    Aspect("contact", "Contact caps", ("contact_cap", "when_capped"), lambda d, s: contact_words(d)),
)


def contact_words(definition: dict[str, Any]) -> str:
    """How a definition meets the tenant's contact caps: "exempt", "obeyed (skip when held)"."""
    if definition.get("contact_cap") == ContactCap.EXEMPT:
        return "exempt (transactional)"
    when = "defer" if definition.get("when_capped") == WhenCapped.DEFER else "skip"
    return f"obeyed ({when} when held)"


@dataclass(frozen=True)
class FieldChange:
    field: str
    was: Any
    now: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "was": self.was, "now": self.now}


@dataclass(frozen=True)
class VersionEntry:
    version: RuleVersion
    current: bool
    changes: tuple[FieldChange, ...]
    description: tuple[str, ...]  # "Trigger was …; now …", one per aspect changed

    @property
    def change(self) -> str:
        if self.version.restored_from is not None:
            return "restored"
        return "edited" if self.changes else "created"

    def as_dict(self) -> dict[str, Any]:
        version = self.version
        return {
            "version": version.version,
            "change": self.change,
            "restored_from": version.restored_from,
            "changed_by": version.changed_by.get_username() if version.changed_by is not None else None,
            "changed_at": version.changed_at.isoformat(),
            "current": self.current,
            "changes": [change.as_dict() for change in self.changes],
            "description": list(self.description),
            "definition": version.definition,
        }


def _definition(version: RuleVersion) -> dict[str, Any]:
    return version_definition(version)


def _summary(definition: dict[str, Any], councils: dict[Any, str]) -> RuleSummary:
    return summarize_rule(definition, council_name=councils.get(definition.get("assigned_council_id")))


def describe_changes(before: dict[str, Any], after: dict[str, Any], councils: dict[Any, str]) -> list[str]:
    """One sentence per aspect that differs: "Conditions was …; now …"."""
    was_summary, now_summary = _summary(before, councils), _summary(after, councils)
    sentences = []
    for aspect in ASPECTS:
        if all(before.get(field) == after.get(field) for field in aspect.fields):
            continue
        was, now = aspect.words(before, was_summary), aspect.words(after, now_summary)
        if was != now:
            sentences.append(f"{aspect.label} was {was}; now {now}")
        else:  # a change the summary's words do not show (a message, an auto-approval detail): the values
            details = "; ".join(
                detail
                for field in aspect.fields
                for detail in _value_changes(field, before.get(field), after.get(field))
            )
            sentences.append(f"{aspect.label}: {details}")
    return sentences


def _value_changes(field: str, was: Any, now: Any) -> list[str]:
    """``message was 'New customer', now 'Big spender'`` for each key of a settings object that changed."""
    if was == now:
        return []
    if isinstance(was, dict) and isinstance(now, dict):
        return [
            f"{key} was {show(was.get(key, 'unset'), 60)}, now {show(now.get(key, 'unset'), 60)}"
            for key in sorted(set(was) | set(now), key=str)
            if was.get(key) != now.get(key)
        ]
    return [f"{field} was {show(was, 60)}, now {show(now, 60)}"]


def rule_version_history(rule: AutomationRule) -> list[VersionEntry]:
    """The rule's versions, newest first, each with what it changed from the one before."""
    versions = list(RuleVersion.objects.filter(rule=rule).select_related("changed_by").order_by("version"))
    council_ids = {_definition(version).get("assigned_council_id") for version in versions} - {None}
    councils = dict(Council.objects.filter(tenant_id=rule.tenant_id, pk__in=council_ids).values_list("pk", "name"))
    entries = []
    previous: dict[str, Any] | None = None
    for version in versions:
        definition = _definition(version)
        changes: tuple[FieldChange, ...] = ()
        description: tuple[str, ...] = ()
        if previous is not None:
            changes = tuple(
                FieldChange(field, previous.get(field), definition.get(field))
                for field in DEFINITION_FIELDS
                if previous.get(field) != definition.get(field)
            )
            description = tuple(describe_changes(previous, definition, councils))
        entries.append(VersionEntry(version, version.version == rule.version, changes, description))
        previous = definition
    entries.reverse()
    return entries


def rule_state_changes(rule: AutomationRule) -> list[RuleStateChange]:
    """When the rule was turned on, off or archived, and by whom, newest first."""
    return list(RuleStateChange.objects.filter(rule=rule).select_related("changed_by").order_by("-changed_at", "-id"))


def state_change_as_dict(change: RuleStateChange) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "version": change.version,
        "changed_by": change.changed_by.get_username() if change.changed_by is not None else None,
        "changed_at": change.changed_at.isoformat(),
    }
