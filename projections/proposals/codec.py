"""PartnerContext to compact JSON and back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from projections.health import codec as health_codec
from projections.proposals.fold import Capacity, PartnerContext, Proposal, Purpose, Rejection


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def encode(context: PartnerContext) -> bytes:
    """Bytes for the store."""
    capacity = context.capacity
    return orjson.dumps(
        [
            context.owner,
            [
                capacity.level,
                _iso(capacity.available_from),
                list(capacity.goals),
                capacity.noted_at,
                capacity.event_id,
            ]
            if capacity
            else None,
            [
                [
                    p.proposal_id,
                    p.title,
                    p.status,
                    p.opened_at.isoformat(),
                    p.kind,
                    p.ask,
                    list(p.goals),
                    _iso(p.proposed_start),
                    _iso(p.submitted_at),
                    _iso(p.decided_at),
                    p.reason,
                    list(p.flags),
                ]
                for p in context.proposals
            ],
            health_codec.to_json(context.health),
            [[r.proposal_id, r.seq, r.type, r.why] for r in context.rejections],
            [
                context.purpose.text,
                _iso(context.purpose.target_date),
                context.purpose.set_at,
                context.purpose.event_id,
            ]
            if context.purpose
            else None,
        ]
    )


def decode(relationship_id: str, blob: bytes) -> PartnerContext:
    """The context the store kept."""
    owner, capacity, proposals, health, rejections, purpose = orjson.loads(blob)
    return PartnerContext(
        relationship_id=relationship_id,
        owner=owner,
        capacity=Capacity(
            capacity[0],
            date.fromisoformat(capacity[1]) if capacity[1] else None,
            tuple(capacity[2]),
            capacity[3],
            capacity[4],
        )
        if capacity
        else None,
        proposals=tuple(_proposal(p) for p in proposals),
        health=health_codec.from_json(relationship_id, health),
        rejections=tuple(Rejection(*r) for r in rejections),
        purpose=Purpose(
            purpose[0],
            date.fromisoformat(purpose[1]) if purpose[1] else None,
            purpose[2],
            purpose[3],
        )
        if purpose
        else None,
    )


def _proposal(row: list[Any]) -> Proposal:
    (pid, title, status, opened, kind, ask, goals, start, submitted, decided, reason, flags) = row
    return Proposal(
        proposal_id=pid,
        title=title,
        status=status,
        opened_at=datetime.fromisoformat(opened),
        kind=kind,
        ask=ask,
        goals=tuple(goals),
        proposed_start=date.fromisoformat(start) if start else None,
        submitted_at=datetime.fromisoformat(submitted) if submitted else None,
        decided_at=datetime.fromisoformat(decided) if decided else None,
        reason=reason,
        flags=tuple(flags),
    )
