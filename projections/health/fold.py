"""What health needs of a relationship's events, kept so that touches' arrival order cannot matter.

The latest owner and purpose are chosen by (time, id), touches are kept sorted by (time, id),
and the touches beyond the newest `kept_touches` are summed as integers: late and
out-of-order interactions give exactly the same state. Stage changes are kept in stream order,
because the one stage timeline (`events.timeline`) folds them in that order.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from events import ConnectionMade, InteractionRecorded, PurposeSet, StageChanged
from events.data import INTERACTION_KINDS
from events.timeline import StageMark
from projections.health.policy import POLICY, HealthPolicy
from projections.latest import later

if TYPE_CHECKING:
    from events import Event


class Touch(NamedTuple):
    """One interaction, as health sees it (a tuple: sorted and compared at C speed)."""

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
    kinds: tuple[int, ...] = (0,) * len(INTERACTION_KINDS)
    latest_at: float = -math.inf
    earliest_at: float = math.inf

    def plus(self, touch: Touch) -> OlderTouches:
        """These touches and one more."""
        kinds = list(self.kinds)
        kinds[INTERACTION_KINDS.index(touch.kind)] += 1
        return OlderTouches(
            count=self.count + 1,
            theirs=self.theirs + touch.theirs,
            sentiment_milli=self.sentiment_milli + round(touch.sentiment * 1000),
            kinds=tuple(kinds),
            latest_at=max(self.latest_at, touch.at),
            earliest_at=min(self.earliest_at, touch.at),
        )


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
    name: str | None = None  # the counterpart's, from the same (latest) handshake as the owner

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
    owner, owner_mark, purpose_mark = state.owner, state.owner_mark, state.purpose_mark
    name = state.name
    touches, older, marks = state.touches, state.older, state.stage_marks
    mark = (at, event.id)
    if isinstance(event, InteractionRecorded):
        data = event.data
        touch = Touch(at, event.id, data.kind, data.direction, data.sentiment)
        touches, older = _with_touch(touches, older, touch, policy.kept_touches)
    elif isinstance(event, StageChanged):
        # in stream order: the stage timeline folds them in the order they were stored
        change = event.data
        marks = (*marks, StageMark(at, event.id, change.to, change.from_, change.reason))
    elif isinstance(event, ConnectionMade):
        if later(mark, owner_mark):
            owner, owner_mark = event.data.owner, mark
            name = event.data.counterpart.name
        if event.data.purpose and later(mark, purpose_mark):
            purpose_mark = mark
    elif isinstance(event, PurposeSet) and later(mark, purpose_mark):
        purpose_mark = mark
    # one construction per event: this is the projector's hot path
    return HealthState(
        state.relationship_id,
        owner,
        owner_mark,
        purpose_mark,
        min(state.opened_at, at),
        max(state.latest_at, at),
        touches,
        older,
        marks,
        name,
    )


def _with_touch(
    touches: tuple[Touch, ...], older: OlderTouches, touch: Touch, kept: int
) -> tuple[tuple[Touch, ...], OlderTouches]:
    if len(touches) < kept and (not touches or touch > touches[-1]):
        return (*touches, touch), older  # the common case: the newest touch so far
    ordered = list(touches)
    bisect.insort(ordered, touch)
    while len(ordered) > kept:
        older = older.plus(ordered.pop(0))
    return tuple(ordered), older
