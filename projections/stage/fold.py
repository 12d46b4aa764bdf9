"""The current stage of a relationship, folded from its events in stream order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from events import FUNNEL, LEVEL, ConnectionMade, Stage, StageChanged
from events.stage_rules import check
from events.stages import TRANSITIONS, transition_key

if TYPE_CHECKING:
    from datetime import datetime

    from events import Event


@dataclass(frozen=True, slots=True)
class StageView:
    """Where one relationship stands, who holds it, and which stages it ever reached."""

    relationship_id: str
    stage: Stage
    since: datetime
    owner: str | None
    counterpart: dict[str, Any] | None
    implicit: bool
    reached: frozenset[Stage]
    opened_at: datetime
    rejected_changes: int = 0

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
        return replace(
            view,
            owner=event.data.owner,
            counterpart=event.data.counterpart.model_dump(mode="json", exclude_none=True),
            implicit=False,
        )
    if isinstance(event, StageChanged):
        verdict = check(view.stage, event.data)
        if not verdict.accepted:
            return replace(view, rejected_changes=view.rejected_changes + 1)
        return replace(
            view, stage=event.data.to, since=event.time, reached=view.reached | {event.data.to}
        )
    return view


def _open(event: Event) -> StageView:
    """A relationship begins at `connection`; implicitly when its first event is not a handshake."""
    owner, counterpart = None, None
    if isinstance(event, ConnectionMade):
        owner = event.data.owner
        counterpart = event.data.counterpart.model_dump(mode="json", exclude_none=True)
    return StageView(
        relationship_id=event.subject,
        stage=Stage.CONNECTION,
        since=event.time,
        owner=owner,
        counterpart=counterpart,
        implicit=owner is None,
        reached=frozenset({Stage.CONNECTION}),
        opened_at=event.time,
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
    for lower, upper in TRANSITIONS:
        if lower in view.reached and upper in view.reached:
            counts[(owner, "converted", transition_key(lower, upper))] = 1
    return counts


def funnel_delta(before: StageView | None, after: StageView | None) -> dict[FunnelKey, int]:
    """How the funnel counts change when a relationship goes from `before` to `after`."""
    delta = funnel_contribution(after)
    for key, count in funnel_contribution(before).items():
        delta[key] = delta.get(key, 0) - count
    return {key: count for key, count in delta.items() if count}


def funnel_reply(counts: dict[tuple[str, str], int]) -> dict[str, Any]:
    """The contract's funnel reply from (measure, name) totals.

    `conversion` is strict: of the relationships that ever reached stage n, the share that
    also reached stage n+1 (a relationship that skipped n+1 did not reach it).
    """
    stages = {stage.value: counts.get(("now", stage.value), 0) for stage in Stage}
    reached = {stage.value: counts.get(("reached", stage.value), 0) for stage in FUNNEL}
    conversion: dict[str, float | None] = {}
    converted: dict[str, int] = {}
    for lower, upper in TRANSITIONS:
        key = transition_key(lower, upper)
        base = reached[lower.value]
        converted[key] = counts.get(("converted", key), 0)
        conversion[key] = round(converted[key] / base, 4) if base else None
    return {"stages": stages, "reached": reached, "conversion": conversion, "converted": converted}
