"""A relationship's health state at many instants from one pass over its events.

The state at instant T is the fold, in stream order, of the events whose `time` is at or before
T (what `health.get` with `as_of` T folds). Instants are visited in time order and each adds
the events that took effect since the previous one: the fold keeps touches, owner and purpose
independent of order, so adding them later gives the same state. Stage changes are the
exception (the timeline keeps them in stream order): when one stored earlier than a change
already folded comes into effect, that instant is folded again from the start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events import StageChanged
from projections.health import fold as health

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from events import Event
    from projections.health.fold import HealthState


def states_at(
    events: Sequence[tuple[int, Event]], instants: Sequence[datetime]
) -> list[HealthState | None]:
    """The state at each instant (None before the first event), in the order asked."""
    by_time = sorted(range(len(events)), key=lambda index: events[index][1].time)
    states: list[HealthState | None] = [None] * len(instants)
    state: HealthState | None = None
    taken: list[int] = []  # indices (stream order) of the events folded so far
    latest_change = -1  # index of the last stage change folded
    for which in sorted(range(len(instants)), key=lambda index: instants[index]):
        instant = instants[which]
        new: list[int] = []
        while len(taken) + len(new) < len(by_time):
            index = by_time[len(taken) + len(new)]
            if events[index][1].time > instant:
                break
            new.append(index)
        new.sort()  # stream order
        changes = [index for index in new if isinstance(events[index][1], StageChanged)]
        taken.extend(new)
        if changes and changes[0] < latest_change:  # out of stream order: fold afresh
            taken.sort()
            state = _fold(events, taken)
        else:
            for index in new:
                seq, event = events[index]
                state = health.apply(state, event, seq)
        if changes:
            latest_change = max(latest_change, changes[-1])
        states[which] = state
    return states


def _fold(events: Sequence[tuple[int, Event]], indices: Sequence[int]) -> HealthState | None:
    state: HealthState | None = None
    for index in indices:
        seq, event = events[index]
        state = health.apply(state, event, seq)
    return state
