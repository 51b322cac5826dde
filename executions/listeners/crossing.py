"""Pure threshold-crossing logic: step the per-rule state with a comparison's answer, say whether to fire.

The comparison itself is ``automations.conditions.threshold.compare``, the one previews use too.

A rule fires when its comparison goes from false to true (an unknown first state counts as false),
never again while it stays true, and again after it has been false and crosses anew. With
``for_minutes`` the condition must hold that long first (Prometheus' ``for``): the state is "pending"
from the first true observation (``met_since``) and fires once ``now - met_since >= for_minutes``,
at a later observation or tick, as long as no false observation came in between.

States (Grafana's names): normal (not met), pending (met, not yet fired), firing (met and fired).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

Value = float | int | str | None


@dataclass(frozen=True)
class CrossingState:
    condition_met: bool | None = None  # None: never observed
    met_since: dt.datetime | None = None  # when the current true run began (the crossing)
    fired_at: dt.datetime | None = None  # set once the current true run fired
    value_before_crossing: Value = None  # the last value seen while the condition was false
    last_value: Value = None
    last_observed_at: dt.datetime | None = None
    crossings: int = 0  # how many times the condition went true; numbers each crossing for its occurrence key

    @property
    def status(self) -> str:
        if not self.condition_met:
            return "normal"
        return "firing" if self.fired_at is not None else "pending"


@dataclass(frozen=True)
class CrossingStep:
    state: CrossingState
    fire: bool


def step_crossing(
    state: CrossingState,
    met: bool | None,
    value: Value,
    observed_at: dt.datetime,
    now: dt.datetime,
    for_minutes: float = 0,
) -> CrossingStep:
    """Apply one observation (``met`` = the comparison for ``value`` observed at ``observed_at``).

    1. An observation older than the last one is stale: only the time-based promotion runs, on the
       stored state (a late or doubled tick never makes a second crossing).
    2. Not comparable (``met`` None): nothing changes.
    3. False: back to normal.
    4. True: a crossing starts if the state was not already met; it fires once it has held for
       ``for_minutes`` and has not fired yet.
    """
    if state.last_observed_at is not None and observed_at < state.last_observed_at:
        met, value, observed_at = state.condition_met, state.last_value, state.last_observed_at
    if met is None:
        return CrossingStep(state, False)
    if not met:
        return CrossingStep(CrossingState(False, None, None, None, value, observed_at, state.crossings), False)
    if state.condition_met:
        new = replace(state, last_value=value, last_observed_at=observed_at)
    else:
        new = CrossingState(True, observed_at, None, state.last_value, value, observed_at, state.crossings + 1)
    assert new.met_since is not None
    held = now - new.met_since >= dt.timedelta(minutes=for_minutes or 0)
    if new.fired_at is None and held:
        return CrossingStep(replace(new, fired_at=now), True)
    return CrossingStep(new, False)
