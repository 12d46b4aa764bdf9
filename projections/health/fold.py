"""What health needs of a relationship's events, kept so that arrival order cannot matter.

Every part of the state is a function of the *set* of events: the latest owner and purpose
are chosen by (time, id), touches and stage changes are kept sorted by (time, id), and the
touches beyond the newest `kept_touches` are summed as integers. Late, out-of-order and
replayed events therefore give exactly the same state, and so the same score.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from events import ConnectionMade, InteractionRecorded, PurposeSet, Stage, StageChanged
from projections.health.policy import POLICY, HealthPolicy

if TYPE_CHECKING:
    from events import Event

KINDS: tuple[str, ...] = (
    "meeting", "call", "email", "message", "event", "social", "intro", "other"
)  # fmt: skip


@dataclass(frozen=True, slots=True, order=True)
class Touch:
    """One interaction, as health sees it."""

    at: float  # epoch seconds
    event_id: str
    kind: str
    direction: str
    sentiment: float

    @property
    def theirs(self) -> bool:
        """They reached out, or it was mutual."""
        return self.direction != "outbound"


@dataclass(frozen=True, slots=True)
class OlderTouches:
    """Touches no longer kept one by one, summed as integers (exact in any order)."""

    count: int = 0
    theirs: int = 0
    sentiment_milli: int = 0
    kinds: tuple[int, ...] = (0,) * len(KINDS)
    latest_at: float = -math.inf

    def plus(self, touch: Touch) -> OlderTouches:
        """These touches and one more."""
        kinds = list(self.kinds)
        kinds[KINDS.index(touch.kind)] += 1
        return OlderTouches(
            count=self.count + 1,
            theirs=self.theirs + touch.theirs,
            sentiment_milli=self.sentiment_milli + round(touch.sentiment * 1000),
            kinds=tuple(kinds),
            latest_at=max(self.latest_at, touch.at),
        )


@dataclass(frozen=True, slots=True, order=True)
class StageMark:
    """One stage change, kept to fold by time (health does not depend on arrival order)."""

    at: float
    event_id: str
    to: Stage
    from_: Stage | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class HealthState:
    """Everything the score needs about one relationship."""

    relationship_id: str
    owner: str | None = None
    owner_mark: tuple[float, str] | None = None
    purpose_mark: tuple[float, str] | None = None
    opened_at: float = math.inf
    latest_at: float = -math.inf
    touches: tuple[Touch, ...] = ()
    older: OlderTouches = OlderTouches()
    stage_marks: tuple[StageMark, ...] = ()

    @property
    def last_touch_at(self) -> float | None:
        """When the latest interaction happened, if any."""
        if self.touches:
            return self.touches[-1].at
        return self.older.latest_at if self.older.count else None


def apply(
    state: HealthState | None, event: Event, seq: int = 0, policy: HealthPolicy = POLICY
) -> HealthState:
    """Fold one event (in any order: the result depends only on the set of events)."""
    at = event.time.timestamp()
    if state is None:
        state = HealthState(relationship_id=event.subject)
    state = replace(state, opened_at=min(state.opened_at, at), latest_at=max(state.latest_at, at))
    mark = (at, event.id)
    if isinstance(event, InteractionRecorded):
        data = event.data
        return _with_touch(
            state, Touch(at, event.id, data.kind, data.direction, data.sentiment), policy
        )
    if isinstance(event, StageChanged):
        change = event.data
        stage_mark = StageMark(at, event.id, change.to, change.from_, change.reason)
        marks = list(state.stage_marks)
        bisect.insort(marks, stage_mark)
        return replace(state, stage_marks=tuple(marks))
    if isinstance(event, ConnectionMade):
        if state.owner_mark is None or mark > state.owner_mark:
            state = replace(state, owner=event.data.owner, owner_mark=mark)
        if event.data.purpose and (state.purpose_mark is None or mark > state.purpose_mark):
            state = replace(state, purpose_mark=mark)
        return state
    if isinstance(event, PurposeSet) and (state.purpose_mark is None or mark > state.purpose_mark):
        return replace(state, purpose_mark=mark)
    return state


def _with_touch(state: HealthState, touch: Touch, policy: HealthPolicy) -> HealthState:
    touches = list(state.touches)
    bisect.insort(touches, touch)
    older = state.older
    while len(touches) > policy.kept_touches:
        older = older.plus(touches.pop(0))
    return replace(state, touches=tuple(touches), older=older)
