"""Facts the rules pages show that other apps own (how many executions ran, the tenant's latest metric
values), handed in by those apps when they start (``executions.apps``), so imports keep pointing
executions -> automations. Until one is handed in, the pages show nothing for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _no_executions(tenant_id: str, since: dt.datetime) -> int:
    return 0


def _no_metric_values(tenant_id: str) -> dict[str, Any]:
    return {}


def _not_known(tenant_id: str, action_type: str) -> bool:
    return False


def _no_backtests(tenant: Any, definitions: list[dict[str, Any]]) -> list[dict[str, int] | None]:
    return [None for _ in definitions]


@dataclass
class PageFacts:
    executions_since: Callable[[str, dt.datetime], int] = _no_executions
    latest_metric_values: Callable[[str], dict[str, Any]] = _no_metric_values
    # Whether a run of this action type would only be recorded: nothing in the tenant receives its command.
    action_only_recorded: Callable[[str, str], bool] = _not_known
    # Each rule body's 30-day backtest, {"days", "would_fire", "triggers_seen"}; None when it cannot be replayed.
    backtest_estimates: Callable[[Any, list[dict[str, Any]]], list[dict[str, int] | None]] = _no_backtests


page_facts = PageFacts()
