"""Queries of the proposals projection: `rapport.q.proposals.pending`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events.proposal_rules import PENDING
from events.queries import ProposalsQuery
from projections.proposals.readiness import age_days, readiness, stage_on
from services.queries.routes import Route

if TYPE_CHECKING:
    from projections.proposals.fold import PartnerContext
    from projections.proposals.store import ProposalsStore
    from services.queries.routes import Context

STATUSES = ("drafted", "submitted", "accepted", "declined", "withdrawn")
SCORED_AT_MOST = 10_000


def routes(service: Context[ProposalsStore]) -> list[Route]:
    """The proposals queries; readiness is judged at the instant asked for (default: now)."""

    async def pending(query: ProposalsQuery) -> dict[str, Any]:
        as_of = query.as_of or datetime.now(UTC)
        statuses = {"pending": sorted(PENDING), "all": list(STATUSES)}.get(
            query.status, [query.status]
        )
        # readiness is judged now, so every match is scored before the most ready are kept
        found = await service.store.find(
            statuses, relationship_id=query.relationship_id, owner=query.owner, limit=SCORED_AT_MOST
        )
        contexts = await service.store.load_rows(sorted({rel for rel, _ in found}))
        items: list[dict[str, Any]] = []
        for rel, proposal_id in found:
            context = contexts.get(rel)
            proposal = context.proposal(proposal_id) if context else None
            if context is None or proposal is None:
                continue
            if query.proposal_id is not None and proposal_id != query.proposal_id:
                continue
            ready = readiness(context, proposal, as_of)
            items.append(
                {
                    "proposal_id": proposal_id,
                    "relationship_id": rel,
                    "title": proposal.title,
                    "status": proposal.status,
                    "age_days": age_days(proposal, as_of),
                    "readiness": ready.reply(),
                    "owner": context.owner,
                    "kind": proposal.kind,
                    "goals": list(proposal.goals),
                    "proposed_start": (
                        proposal.proposed_start.isoformat() if proposal.proposed_start else None
                    ),
                    "stage": stage_on(context, as_of).value,
                    "flags": list(proposal.flags),
                    "rejected": [
                        {"seq": r.seq, "type": r.type, "why": r.why}
                        for r in context.rejected(proposal_id)
                    ],
                }
            )
        items.sort(key=most_ready_first)
        answer: dict[str, Any] = {"items": items[: query.limit], "as_of": as_of.isoformat()}
        if query.relationship_id is not None:  # one relationship: what its partner is about
            context = (await service.store.load_rows([query.relationship_id])).get(
                query.relationship_id
            )
            answer["partner"] = partner(context) if context else None
        return answer

    return [Route("pending", ProposalsQuery, pending, merge=merge_pending)]


def partner(context: PartnerContext) -> dict[str, Any]:
    """The latest purpose and capacity noted for a relationship (the one "latest" rule)."""
    purpose, capacity = context.purpose, context.capacity
    return {
        "purpose": {
            "purpose": purpose.text,
            "target_date": purpose.target_date.isoformat() if purpose.target_date else None,
            "set_at": _instant(purpose.set_at),
        }
        if purpose
        else None,
        "capacity": {
            "capacity": capacity.level,
            "available_from": (
                capacity.available_from.isoformat() if capacity.available_from else None
            ),
            "goals": list(capacity.goals),
            "noted_at": _instant(capacity.noted_at),
        }
        if capacity
        else None,
    }


def _instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def merge_pending(query: ProposalsQuery, replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Partition lists joined, most ready first."""
    items = [item for reply in replies for item in reply["items"]]
    items.sort(key=most_ready_first)
    return {"items": items[: query.limit], "as_of": replies[0]["as_of"]}


def most_ready_first(item: dict[str, Any]) -> tuple[int, int, str, str]:
    """Readiness, then age, then ids: a total order, so partitions merge exactly."""
    return (
        -item["readiness"]["score"],
        -item["age_days"],
        item["relationship_id"],
        item["proposal_id"],
    )
