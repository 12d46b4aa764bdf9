"""The one stage timeline: where a relationship stood at any instant.

The stage at instant T is the fold, in stream order, of the relationship's stage changes whose
`time` is at or before T, under the stage rules (a rejected change does not count). The
current stage is the fold of all of them. Everything that names a stage — the stage
projection, health's cadence and momentum, proposal readiness, the audit and the ingest's
check — uses this module, so one relationship never shows two stages.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from events.stage_rules import check
from events.stages import Stage

if TYPE_CHECKING:
    from collections.abc import Iterable

    from events.stage_rules import StageChange, Verdict


class StageMark(NamedTuple):
    """One stored stage change, as the timeline keeps it (in stream order)."""

    at: float  # its `time`, in epoch seconds
    event_id: str
    to: Stage
    from_: Stage | None
    reason: str | None


def step(current: Stage, change: StageChange) -> tuple[Stage, Verdict]:
    """Fold one change: the stage after it, and the verdict on it."""
    verdict = check(current, change)
    return (change.to if verdict.accepted else current), verdict


def stage_at(
    marks: Iterable[StageMark], opened_at: float, instant: float = math.inf
) -> tuple[Stage, float]:
    """The stage at `instant` (default: after every change) and since when it has held."""
    stage, since = Stage.CONNECTION, opened_at
    for mark in marks:
        if mark.at > instant:
            continue  # not yet happened at that instant; later marks may have
        after, verdict = step(stage, mark)
        if verdict.accepted:
            stage, since = after, mark.at
    return stage, since
