"""`proposal.decided`: a proposal accepted, declined or withdrawn (not a refused decision)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.notices import PROPOSAL_DECIDED, Notice, iso, notice_id
from events.proposal_rules import DECISIONS
from events.records import ProposalEvent
from projections.notices import NoNotices

if TYPE_CHECKING:
    from events import Event
    from projections.proposals.fold import PartnerContext


class ProposalNotices(NoNotices["PartnerContext"]):
    """A notice for each decision the lifecycle accepted."""

    def after_event(
        self, before: PartnerContext | None, event: Event, seq: int, after: PartnerContext, /
    ) -> Notice | None:
        """The decision, when this event moved its proposal to a decided status."""
        if not isinstance(event, ProposalEvent) or event.type not in DECISIONS:
            return None
        proposal_id = event.data.proposal_id
        was = before.proposal(proposal_id) if before is not None else None
        now = after.proposal(proposal_id)
        if now is None or now.status != DECISIONS[event.type]:
            return None  # refused by the lifecycle: kept as a rejected transition, not news
        if was is not None and was.status == now.status:
            return None
        at = event.time.timestamp()
        return Notice(
            id=notice_id(PROPOSAL_DECIDED, event.id),
            kind=PROPOSAL_DECIDED,
            relationship_id=event.subject,
            time=at,
            data={
                "relationship_id": event.subject,
                "owner": after.owner,
                "proposal_id": proposal_id,
                "decision": now.status,
                "flags": list(now.flags),
                "decided_at": iso(at),
                "event_id": event.id,
                "seq": seq,
            },
        )
