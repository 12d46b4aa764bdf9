"""Proposals and the partner context that decides whether they are ready.

Lifecycle: drafted -> submitted -> accepted | declined | withdrawn (withdrawn also from
drafted); a submission without a draft opens the proposal at `submitted`. An event that breaks
the lifecycle cannot be applied: the fold raises and the runner dead-letters it with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from events import (
    PROPOSAL_DECISIONS,
    CapacityNoted,
    ConnectionMade,
    ProposalDrafted,
    ProposalSubmitted,
    Stage,
    StageChanged,
)
from events.envelope import ProposalAccepted, ProposalDeclined, ProposalWithdrawn
from events.stage_rules import check
from projections.base import FoldError
from projections.health import fold as health

if TYPE_CHECKING:
    from datetime import date, datetime

    from events import Event
    from projections.health.fold import HealthState

PENDING = frozenset({"drafted", "submitted"})
# Which decisions each status allows.
_DECIDABLE = {
    "accepted": frozenset({"submitted"}),
    "declined": frozenset({"submitted"}),
    "withdrawn": frozenset({"drafted", "submitted"}),
}


@dataclass(frozen=True, slots=True)
class Proposal:
    """One partnership proposal."""

    proposal_id: str
    title: str
    status: str
    opened_at: datetime
    kind: str | None = None
    ask: str | None = None
    goals: tuple[str, ...] = ()
    proposed_start: date | None = None
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    reason: str | None = None

    @property
    def pending(self) -> bool:
        """Drafted or submitted: still open."""
        return self.status in PENDING


@dataclass(frozen=True, slots=True)
class Capacity:
    """The partner's latest noted capacity, availability and goals."""

    level: str
    available_from: date | None
    goals: tuple[str, ...]
    noted_at: float
    event_id: str


@dataclass(frozen=True, slots=True)
class PartnerContext:
    """A relationship as the proposals projection keeps it."""

    relationship_id: str
    health: HealthState
    owner: str | None = None
    stage: Stage = Stage.CONNECTION
    capacity: Capacity | None = None
    proposals: tuple[Proposal, ...] = ()

    def proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal with this id, if any."""
        return next((p for p in self.proposals if p.proposal_id == proposal_id), None)

    def with_proposal(self, proposal: Proposal) -> PartnerContext:
        """This context with `proposal` added or replaced."""
        if self.proposal(proposal.proposal_id) is None:
            return replace(self, proposals=(*self.proposals, proposal))
        return replace(
            self,
            proposals=tuple(
                proposal if p.proposal_id == proposal.proposal_id else p for p in self.proposals
            ),
        )


def apply(context: PartnerContext | None, event: Event, seq: int = 0) -> PartnerContext:
    """Fold one event in stream order."""
    health_state = health.apply(context.health if context else None, event)
    if context is None:
        context = PartnerContext(event.subject, health=health_state)
    owner, stage, capacity = context.owner, context.stage, context.capacity
    if isinstance(event, ConnectionMade):
        owner = event.data.owner
    elif isinstance(event, StageChanged):
        if check(stage, event.data).accepted:
            stage = event.data.to
    elif isinstance(event, CapacityNoted):
        noted = Capacity(
            event.data.capacity,
            event.data.available_from,
            event.data.goals,
            event.time.timestamp(),
            event.id,
        )
        if capacity is None or (noted.noted_at, noted.event_id) > (
            capacity.noted_at,
            capacity.event_id,
        ):
            capacity = noted
    elif isinstance(event, ProposalDrafted):
        context = _drafted(context, event)
    elif isinstance(event, ProposalSubmitted):
        context = _submitted(context, event)
    elif isinstance(event, ProposalAccepted | ProposalDeclined | ProposalWithdrawn):
        context = _decided(context, event)
    # one construction per event: this is the projector's hot path
    return PartnerContext(
        context.relationship_id, health_state, owner, stage, capacity, context.proposals
    )


def _drafted(context: PartnerContext, event: ProposalDrafted) -> PartnerContext:
    data = event.data
    existing = context.proposal(data.proposal_id)
    if existing is not None and existing.status != "drafted":
        raise FoldError(
            f"proposal {data.proposal_id} is already {existing.status}; a draft cannot reopen it"
        )
    return context.with_proposal(
        Proposal(
            proposal_id=data.proposal_id,
            title=data.title,
            status="drafted",
            opened_at=existing.opened_at if existing else event.time,
            kind=data.kind,
            ask=data.ask,
            goals=data.goals,
            proposed_start=data.proposed_start,
        )
    )


def _submitted(context: PartnerContext, event: ProposalSubmitted) -> PartnerContext:
    data = event.data
    existing = context.proposal(data.proposal_id)
    if existing is None:
        if data.title is None:
            raise FoldError(
                f"proposal {data.proposal_id} was never drafted, and its submission has no title"
            )
        return context.with_proposal(
            Proposal(
                proposal_id=data.proposal_id,
                title=data.title,
                status="submitted",
                opened_at=event.time,
                kind=data.kind,
                ask=data.ask,
                goals=data.goals,
                proposed_start=data.proposed_start,
                submitted_at=event.time,
            )
        )
    if existing.status != "drafted":
        raise FoldError(f"proposal {data.proposal_id} is already {existing.status}")
    return context.with_proposal(
        replace(
            existing,
            status="submitted",
            submitted_at=event.time,
            title=data.title or existing.title,
            kind=data.kind or existing.kind,
            ask=data.ask or existing.ask,
            goals=data.goals or existing.goals,
            proposed_start=data.proposed_start or existing.proposed_start,
        )
    )


def _decided(
    context: PartnerContext, event: ProposalAccepted | ProposalDeclined | ProposalWithdrawn
) -> PartnerContext:
    decision = PROPOSAL_DECISIONS[event.type]
    proposal_id = event.data.proposal_id
    existing = context.proposal(proposal_id)
    if existing is None:
        raise FoldError(f"proposal {proposal_id} is unknown, so it cannot be {decision}")
    if existing.status not in _DECIDABLE[decision]:
        raise FoldError(f"proposal {proposal_id} is {existing.status}; it cannot be {decision}")
    return context.with_proposal(
        replace(existing, status=decision, decided_at=event.time, reason=event.data.reason)
    )
