"""Proposals and the partner context that decides whether they are ready.

Every proposal event is judged by the one lifecycle function (`events.proposal_rules`), in
stream order: an accepted one moves its proposal, a rejected one changes nothing and is kept
on its proposal as a rejected transition with why. Nothing here is dead-lettered: whatever
the validated ingest accepts, this fold applies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from events import CapacityNoted, ConnectionMade, ProposalDrafted, ProposalSubmitted, PurposeSet
from events.proposal_rules import PENDING, judge
from events.records import ProposalEvent
from projections.health import fold as health
from projections.latest import later

if TYPE_CHECKING:
    from datetime import date, datetime

    from events import Event
    from events.proposal_rules import Status
    from projections.health.fold import HealthState
    from projections.latest import Mark


@dataclass(frozen=True, slots=True)
class Rejection:
    """A proposal event the lifecycle refused: kept in the log, changing nothing."""

    proposal_id: str
    seq: int
    type: str
    why: str


@dataclass(frozen=True, slots=True)
class Proposal:
    """One partnership proposal."""

    proposal_id: str
    title: str
    status: Status
    opened_at: datetime
    kind: str | None = None
    ask: str | None = None
    goals: tuple[str, ...] = ()
    proposed_start: date | None = None
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    flags: tuple[str, ...] = ()  # e.g. `unsubmitted`: decided while still a draft

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

    @property
    def mark(self) -> Mark:
        """When it was noted, to tell the latest."""
        return (self.noted_at, self.event_id)


@dataclass(frozen=True, slots=True)
class Purpose:
    """Why the relationship exists, as last set (or given at the handshake)."""

    text: str
    target_date: date | None
    set_at: float
    event_id: str

    @property
    def mark(self) -> Mark:
        """When it was set, to tell the latest."""
        return (self.set_at, self.event_id)


@dataclass(frozen=True, slots=True)
class PartnerContext:
    """A relationship as the proposals projection keeps it."""

    relationship_id: str
    health: HealthState
    owner: str | None = None
    capacity: Capacity | None = None
    proposals: tuple[Proposal, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    purpose: Purpose | None = None

    def proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal with this id, if any."""
        return next((p for p in self.proposals if p.proposal_id == proposal_id), None)

    def rejected(self, proposal_id: str) -> tuple[Rejection, ...]:
        """The refused events of one proposal, in stream order."""
        return tuple(r for r in self.rejections if r.proposal_id == proposal_id)

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
    """Fold one event in stream order (`seq`: its stream sequence, named by rejections)."""
    health_state = health.apply(context.health if context else None, event)
    if context is None:
        context = PartnerContext(event.subject, health=health_state)
    # the owner of the latest handshake by (time, id): health's, the one rule of projections.latest
    owner, capacity, purpose = health_state.owner, context.capacity, context.purpose
    mark = (event.time.timestamp(), event.id)
    if isinstance(event, ConnectionMade):
        if event.data.purpose and later(mark, purpose.mark if purpose else None):
            purpose = Purpose(event.data.purpose, None, *mark)
    elif isinstance(event, PurposeSet):
        if later(mark, purpose.mark if purpose else None):
            purpose = Purpose(event.data.purpose, event.data.target_date, *mark)
    elif isinstance(event, CapacityNoted):
        if later(mark, capacity.mark if capacity else None):
            data = event.data
            capacity = Capacity(data.capacity, data.available_from, data.goals, *mark)
    elif isinstance(event, ProposalEvent):
        context = _proposal_event(context, event, seq)
    # one construction per event: this is the projector's hot path
    return PartnerContext(
        context.relationship_id,
        health_state,
        owner,
        capacity,
        context.proposals,
        context.rejections,
        purpose,
    )


def _proposal_event(context: PartnerContext, event: ProposalEvent, seq: int) -> PartnerContext:
    proposal_id = event.data.proposal_id
    existing = context.proposal(proposal_id)
    verdict = judge(existing.status if existing else None, event)
    if not verdict.accepted:
        rejection = Rejection(proposal_id, seq, event.type, verdict.why)
        return replace(context, rejections=(*context.rejections, rejection))
    assert verdict.status is not None
    if isinstance(event, ProposalDrafted):
        data = event.data
        return context.with_proposal(
            Proposal(
                proposal_id=proposal_id,
                title=data.title,
                status="drafted",
                opened_at=existing.opened_at if existing else event.time,
                kind=data.kind,
                ask=data.ask,
                goals=data.goals,
                proposed_start=data.proposed_start,
            )
        )
    if isinstance(event, ProposalSubmitted):
        submitted = event.data
        if existing is None:
            assert submitted.title is not None  # the lifecycle requires it
            return context.with_proposal(
                Proposal(
                    proposal_id=proposal_id,
                    title=submitted.title,
                    status="submitted",
                    opened_at=event.time,
                    kind=submitted.kind,
                    ask=submitted.ask,
                    goals=submitted.goals,
                    proposed_start=submitted.proposed_start,
                    submitted_at=event.time,
                )
            )
        return context.with_proposal(
            replace(
                existing,
                status="submitted",
                submitted_at=event.time,
                title=submitted.title or existing.title,
                kind=submitted.kind or existing.kind,
                ask=submitted.ask or existing.ask,
                goals=submitted.goals or existing.goals,
                proposed_start=submitted.proposed_start or existing.proposed_start,
            )
        )
    assert existing is not None  # a decision is accepted only on a known proposal
    return context.with_proposal(
        replace(
            existing,
            status=verdict.status,
            decided_at=event.time,
            reason=event.data.reason,
            flags=existing.flags + verdict.flags,
        )
    )
