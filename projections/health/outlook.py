"""A relationship's band at an instant, and until when it holds if nothing else happens.

Between two of its events a relationship's score never rises: recency, frequency (decayed
touches) and momentum fall with time, reciprocity, sentiment and depth depend on the touches
alone, and the stage holds. So the band can only change with time at the instants where it
falls below its floor, or at the next event's `time` (an event dated in the future comes into
effect then). `outlook` finds the band at `now` with the same functions `assess` uses, and an
instant up to which that band is certain: a band checked at a later instant before the next
event holds over the whole span (the score is sandwiched), so it probes ever longer spans,
then halves the last one to come close to the instant it changes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from events import Stage
from projections.health.components import (
    contact_at,
    frequency,
    momentum,
    recency,
    scored,
    weighted_score,
)
from projections.health.policy import POLICY, HealthPolicy, band
from projections.health.score import stage_at

if TYPE_CHECKING:
    from projections.health.fold import HealthState

CLOSED = "closed"  # not a band: a closed relationship is in none, and counted apart
# Spans (seconds) probed after `now`: a band that holds at the end of one holds throughout it.
PROBES = tuple(60.0 * 4**power for power in range(12))  # one minute to ~8 years
FOREVER = math.inf


class Outlook(NamedTuple):
    """The band at an instant (None: not opened yet; `closed`) and an instant it holds until."""

    band: str | None
    until: float  # the band holds from the instant asked up to and including `until`


def outlook(state: HealthState, now: float, policy: HealthPolicy = POLICY) -> Outlook:
    """The band of `state` at `now`, and up to when it surely holds with no new events."""
    upcoming = next_event_after(state, now)
    if state.opened_at > now:
        return Outlook(None, math.nextafter(upcoming, -math.inf))
    stage, since = stage_at(state, now)
    if stage == Stage.CLOSED:
        return Outlook(CLOSED, math.nextafter(upcoming, -math.inf))
    contact = contact_at(state, now, policy)  # the same touches count until the next event
    components = scored(contact, stage, since, now, policy)
    cadence = policy.cadence_days[stage]

    def band_at(instant: float) -> str:
        # reciprocity, sentiment and depth are the touches' alone: only these move with time
        later = {
            **components,
            "recency": recency(contact.last_at, instant, cadence),
            "frequency": frequency(contact, instant, cadence, policy),
            "momentum": momentum(stage, since, instant, policy),
        }
        return band(weighted_score(later, policy))

    current = band(weighted_score(components, policy))
    horizon = math.nextafter(upcoming, -math.inf)  # the last instant before the next event
    if band_at(horizon) == current:  # (with no event ahead: the band it tends to, forever)
        return Outlook(current, horizon)
    held, moved = now, horizon  # the band holds at `held` and no longer at `moved`
    for span in PROBES:
        probe = now + span
        if probe >= horizon:
            break
        if band_at(probe) != current:
            moved = probe
            break
        held = probe
    # close in on the change, to within a sixteenth of the time it holds (or a second): a
    # row near a band's edge is then scored about once as it crosses, not at every summary
    while moved - held > max(1.0, (held - now) / 16):
        middle = held + (moved - held) / 2
        if band_at(middle) == current:
            held = middle
        else:
            moved = middle
    return Outlook(current, held)


def next_event_after(state: HealthState, now: float) -> float:
    """The earliest `time` after `now` of an event in `state` that changes its score."""
    times = [touch.at for touch in state.touches if touch.at > now]
    times += [mark.at for mark in state.stage_marks if mark.at > now]
    older = state.older
    if older.count and older.latest_at > now:
        times.append(older.latest_at)  # the summed touches count from their latest on
    if state.opened_at > now:
        times.append(state.opened_at)
    return min(times, default=FOREVER)
