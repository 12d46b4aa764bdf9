"""The current stage of a relationship, folded from its events in stream order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from events import FUNNEL, LEVEL, ORDER, ConnectionMade, Stage, StageChanged
from events.records import data_json
from events.stages import TRANSITIONS, transition_key
from events.timeline import step
from projections.latest import Mark, later

if TYPE_CHECKING:
    from datetime import datetime

    from events import Event


@dataclass(frozen=True, slots=True)
class StageView:
    """Where one relationship stands, who holds it, and which stages it ever reached.

    `reached` holds every funnel stage up to the furthest one it ever stood at: a stage
    skipped on the way up counts as reached (the contract's funnel `reached`).
    """

    relationship_id: str
    stage: Stage
    since: datetime
    owner: str | None
    counterpart: dict[str, Any] | None
    implicit: bool
    reached: frozenset[Stage]
    opened_at: datetime
    rejected_changes: int = 0
    # (time, id) of the handshake that named the owner and counterpart: the latest one wins
    owner_mark: Mark | None = None

    def reply(self) -> dict[str, Any]:
        """The contract's `stage.get` reply fields."""
        return {
            "relationship_id": self.relationship_id,
            "stage": self.stage.value,
            "level": LEVEL[self.stage].value,
            "since": self.since.isoformat(),
            "owner": self.owner,
            "counterpart": self.counterpart,
            "implicit": self.implicit,
            "opened_at": self.opened_at.isoformat(),
            "rejected_changes": self.rejected_changes,
        }


def apply(view: StageView | None, event: Event, seq: int = 0) -> StageView:
    """Fold one event; a rule-breaking stage change is counted and changes nothing else."""
    if view is None:
        view = _open(event)
        if isinstance(event, ConnectionMade):
            return view
    if isinstance(event, ConnectionMade):
        mark = (event.time.timestamp(), event.id)
        if not later(mark, view.owner_mark):  # an older handshake, arriving late
            return replace(view, implicit=False) if view.implicit else view
        return replace(
            view,
            owner=event.data.owner,
            counterpart=data_json(event.data.counterpart),
            implicit=False,
            owner_mark=mark,
        )
    if isinstance(event, StageChanged):
        stage, verdict = step(view.stage, event.data)
        if not verdict.accepted:
            return replace(view, rejected_changes=view.rejected_changes + 1)
        return replace(view, stage=stage, since=event.time, reached=view.reached | up_to(stage))
    return view


def up_to(stage: Stage) -> frozenset[Stage]:
    """The funnel stages a relationship standing at `stage` has reached (closed: none more)."""
    if stage not in ORDER:
        return frozenset()
    return frozenset(FUNNEL[: ORDER[stage] + 1])


def _open(event: Event) -> StageView:
    """A relationship begins at `connection`; implicitly when its first event is not a handshake."""
    owner, counterpart, mark = None, None, None
    if isinstance(event, ConnectionMade):
        owner = event.data.owner
        counterpart = data_json(event.data.counterpart)
        mark = (event.time.timestamp(), event.id)
    return StageView(
        relationship_id=event.subject,
        stage=Stage.CONNECTION,
        since=event.time,
        owner=owner,
        counterpart=counterpart,
        implicit=owner is None,
        reached=frozenset({Stage.CONNECTION}),
        opened_at=event.time,
        owner_mark=mark,
    )


# -- the funnel: additive counts, so a store can keep them up to date with deltas ------------

FunnelKey = tuple[str, str, str]  # (owner or "", measure, stage or transition)


def funnel_contribution(view: StageView | None) -> dict[FunnelKey, int]:
    """What one relationship adds to the funnel counts of its owner."""
    if view is None:
        return {}
    owner = view.owner or ""
    counts: dict[FunnelKey, int] = {(owner, "now", view.stage.value): 1}
    for stage in view.reached & set(FUNNEL):
        counts[(owner, "reached", stage.value)] = 1
    return counts


def funnel_delta(before: StageView | None, after: StageView | None) -> dict[FunnelKey, int]:
    """How the funnel counts change when a relationship goes from `before` to `after`."""
    delta = funnel_contribution(after)
    for key, count in funnel_contribution(before).items():
        delta[key] = delta.get(key, 0) - count
    return {key: count for key, count in delta.items() if count}


def funnel_reply(counts: dict[tuple[str, str], int]) -> dict[str, Any]:
    """The contract's funnel reply from (measure, name) totals.

    `reached` counts the relationships that ever stood at a stage or moved past it, so it
    never grows along the funnel, and `conversion` n->n+1 is reached(n+1) / reached(n) <= 1.
    Partition replies merge by adding their counts and calling this again.
    """
    stages = {stage.value: counts.get(("now", stage.value), 0) for stage in Stage}
    reached = {stage.value: counts.get(("reached", stage.value), 0) for stage in FUNNEL}
    conversion: dict[str, float | None] = {}
    for lower, upper in TRANSITIONS:
        base = reached[lower.value]
        conversion[transition_key(lower, upper)] = (
            round(reached[upper.value] / base, 4) if base else None
        )
    return {"stages": stages, "reached": reached, "conversion": conversion}
