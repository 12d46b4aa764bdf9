"""The audit of a relationship: every stage change, judged by the stage rules, with flags.

A pure fold over one relationship's events in stream order (those up to `as_of`, when asked).
Flags say more than the rules: `skipped:<stages>`, `backward`, `reopened`, `from-mismatch`,
`missing-reason`, `no-change`, and evidence gaps — promotion to engagement without any inbound
or mutual interaction (`no-inbound-interaction`), to conversion without a purpose set
(`no-purpose`), to partnership without an accepted proposal (`no-accepted-proposal`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from events import (
    ConnectionMade,
    InteractionRecorded,
    PurposeSet,
    Stage,
    StageChanged,
)
from events.proposal_rules import judge
from events.records import ProposalEvent
from events.timeline import step

if TYPE_CHECKING:
    from collections.abc import Iterable

    from events import Event
    from events.proposal_rules import Status


@dataclass(frozen=True, slots=True)
class AuditedChange:
    """One stage change with its verdict."""

    seq: int
    time: str
    from_: Stage
    to: Stage
    claimed_from: Stage | None
    reason: str | None
    actor: str | None
    source: str
    event_id: str
    accepted: bool
    flags: tuple[str, ...]
    why: str

    def reply(self) -> dict[str, Any]:
        """The contract's audit change."""
        return {
            "seq": self.seq,
            "time": self.time,
            "from": self.from_.value,
            "to": self.to.value,
            "reason": self.reason,
            "actor": self.actor,
            "source": self.source,
            "accepted": self.accepted,
            "flags": list(self.flags),
            "claimed_from": self.claimed_from.value if self.claimed_from else None,
            "event_id": self.event_id,
            "rejected_because": self.why or None,
        }


@dataclass(slots=True)
class Evidence:
    """What the relationship had shown by a given point of the log."""

    inbound: bool = False
    purpose: bool = False
    accepted_proposal: bool = False
    proposals: dict[str, Status] = field(default_factory=dict)

    def note(self, event: Event) -> None:
        """Take one more event into account."""
        if isinstance(event, InteractionRecorded) and event.data.direction != "outbound":
            self.inbound = True
        elif isinstance(event, PurposeSet) or (
            isinstance(event, ConnectionMade) and event.data.purpose
        ):
            self.purpose = True
        elif isinstance(event, ProposalEvent):
            # only an acceptance the lifecycle accepts is evidence (the projection's rules)
            proposal_id = event.data.proposal_id
            verdict = judge(self.proposals.get(proposal_id), event)
            if verdict.accepted and verdict.status is not None:
                self.proposals[proposal_id] = verdict.status
                self.accepted_proposal = self.accepted_proposal or verdict.status == "accepted"

    def gaps(self, to: Stage) -> tuple[str, ...]:
        """Evidence a promotion to `to` lacks."""
        if to == Stage.ENGAGEMENT and not self.inbound:
            return ("no-inbound-interaction",)
        if to == Stage.CONVERSION and not self.purpose:
            return ("no-purpose",)
        if to == Stage.PARTNERSHIP and not self.accepted_proposal:
            return ("no-accepted-proposal",)
        return ()


@dataclass(slots=True)
class Audit:
    """The stage a relationship reached and every change on the way."""

    relationship_id: str
    stage: Stage = Stage.CONNECTION
    changes: list[AuditedChange] = field(default_factory=list)
    events: int = 0

    def reply(self) -> dict[str, Any]:
        """The contract's audit reply."""
        return {
            "relationship_id": self.relationship_id,
            "stage": self.stage.value,
            "changes": [change.reply() for change in self.changes],
        }


def audit(relationship_id: str, events: Iterable[tuple[int, Event]]) -> Audit:
    """Judge every stage change of one relationship, in stream order."""
    result = Audit(relationship_id)
    evidence = Evidence()
    for seq, event in events:
        result.events += 1
        if not isinstance(event, StageChanged):
            evidence.note(event)
            continue
        change = event.data
        after, verdict = step(result.stage, change)
        gaps = evidence.gaps(change.to) if change.to != result.stage else ()
        result.changes.append(
            AuditedChange(
                seq=seq,
                time=event.time.isoformat(),
                from_=result.stage,
                to=change.to,
                claimed_from=change.from_,
                reason=change.reason,
                actor=event.actor,
                source=event.source,
                event_id=event.id,
                accepted=verdict.accepted,
                flags=verdict.flags + gaps,
                why=verdict.reason,
            )
        )
        result.stage = after
    return result
