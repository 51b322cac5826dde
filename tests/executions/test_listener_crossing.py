"""Pure crossing logic: table-driven sequences of observations."""

from __future__ import annotations

import datetime as dt

import pytest

from automations.conditions.threshold import compare
from executions.listeners.crossing import CrossingState, step_crossing

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def run(operator: str, threshold: float, observations: list[tuple[int, object]], for_minutes: float = 0, ticks=()):
    """Feed (minute, value) observations, plus extra time-only ticks at the given minutes; return firing minutes."""
    state = CrossingState()
    fired = []
    events = sorted([(m, "obs", v) for m, v in observations] + [(m, "tick", None) for m in ticks], key=lambda e: e[0])
    for minute, kind, value in events:
        now = T0 + dt.timedelta(minutes=minute)
        if kind == "obs":
            met = compare(operator, value, threshold)
            step = step_crossing(state, met, value, now, now, for_minutes)
        else:  # a tick with no new sample: re-observe the last value at its old timestamp
            step = step_crossing(
                state, state.condition_met, state.last_value, state.last_observed_at or now, now, for_minutes
            )
        state = step.state
        if step.fire:
            fired.append(minute)
    return fired, state


@pytest.mark.parametrize(
    ("operator", "threshold", "values", "expected"),
    [
        # one firing per upward crossing
        ("<", 3, [5, 4, 2, 1, 2, 0], [2]),
        ("<", 3, [5, 2, 5, 2, 5, 2], [1, 3, 5]),
        ("<", 3, [2, 2, 2], [0]),  # an unknown first state counts as false: already low fires once
        ("<", 3, [3, 3, 2], [2]),  # equal is not below
        ("<=", 3, [4, 3, 3, 4, 3], [1, 4]),
        (">", 100, [50, 150, 200, 90, 101], [1, 4]),
        (">=", 100, [100, 99, 100], [0, 2]),
        ("=", 0, [1, 0, 0, 1, 0], [1, 4]),
        ("!=", 0, [0, 1, 2, 0, 3], [1, 4]),
        # numeric strings are numbers; other text leaves the state alone
        ("<", 3, ["5", "2", "2.5"], [1]),
        ("<", 3, [5, "closed", 2, "closed", 1], [2]),
        ("<", 3, [2, "closed", 5, 2], [0, 3]),
    ],
)
def test_sequences(operator, threshold, values, expected):
    fired, _ = run(operator, threshold, list(enumerate(values)))
    assert fired == expected


@pytest.mark.parametrize(
    ("observations", "ticks", "for_minutes", "expected"),
    [
        ([(0, 2)], [5, 10, 15], 10, [10]),  # fires at the first look after holding 10 minutes
        ([(0, 2)], [5, 9], 10, []),  # not yet
        ([(0, 2), (5, 5)], [10, 15], 10, []),  # went false before holding long enough
        ([(0, 2), (5, 5), (6, 2)], [10, 16, 20], 10, [16]),  # the clock restarts at the new crossing
        ([(0, 2), (3, 1), (7, 2)], [10, 20], 10, [10]),  # staying true (other values) keeps the clock
        ([(0, 2), (12, 1)], [], 10, [12]),  # a later sample can be the look that fires
        ([(0, 2), (10, 5), (11, 2)], [30], 10, [30]),  # false at 10 before any look: only the new crossing fires
        ([(0, 2), (10, 2), (11, 5), (12, 2)], [30], 10, [10, 30]),  # fired at 10, again after false and 10 more
    ],
)
def test_for_minutes(observations, ticks, for_minutes, expected):
    fired, _ = run("<", 3, observations, for_minutes=for_minutes, ticks=ticks)
    assert fired == expected


def test_a_stale_observation_does_not_make_a_second_crossing():
    state = step_crossing(CrossingState(), True, 2, T0, T0).state
    assert state.fired_at == T0
    # a late sample from before, saying false, is ignored
    late = step_crossing(state, False, 5, T0 - dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=1))
    assert late.state == state and not late.fire


def test_states_and_previous_value():
    state = step_crossing(CrossingState(), False, 5, T0, T0).state
    assert state.status == "normal"
    pending = step_crossing(state, True, 2, T0, T0, for_minutes=5).state
    assert pending.status == "pending" and pending.value_before_crossing == 5 and pending.met_since == T0
    firing = step_crossing(pending, True, 1, T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(minutes=5), 5)
    assert firing.fire and firing.state.status == "firing" and firing.state.value_before_crossing == 5


@pytest.mark.parametrize(
    ("operator", "actual", "threshold", "expected"),
    [
        ("<", 1, 2, True),
        ("<", 2.0, 2, False),
        (">", "10", 2, True),
        ("=", "open", 1, None),
        ("<", None, 1, None),
        ("<", True, 1, None),
        ("<", float("nan"), 1, None),
        ("~", 1, 1, None),
    ],
)
def test_compare(operator, actual, threshold, expected):
    assert compare(operator, actual, threshold) is expected
