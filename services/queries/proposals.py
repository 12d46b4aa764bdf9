"""Queries of the proposals projection: `rapport.q.proposals.pending`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events.proposal_rules import PENDING
from events.queries import ProposalsQuery
from projections.proposals.readiness import age_days, readiness, readiness_score, stage_on
from projections.proposals.store import CEILING_CHUNK, Which
from services.queries.routes import Route

if TYPE_CHECKING:
    from projections.proposals.fold import PartnerContext, Proposal
    from projections.proposals.store import ProposalsStore
    from services.queries.routes import Context

STATUSES = ("drafted", "submitted", "accepted", "declined", "withdrawn")
SCORED_AT_MOST = 10_000  # proposals one query scores, at most
Rank = tuple[int, int, str, str]  # a proposal's place in the list (`rank`)


def routes(service: Context[ProposalsStore]) -> list[Route]:
    """The proposals queries; readiness is judged at the instant asked for (default: now)."""

    async def pending(query: ProposalsQuery) -> dict[str, Any]:
        as_of = query.as_of or datetime.now(UTC)
        statuses = {"pending": sorted(PENDING), "all": list(STATUSES)}.get(
            query.status, [query.status]
        )
        which = Which(statuses, query.relationship_id, query.proposal_id, query.owner)
        at = as_of.timestamp()
        # readiness is judged at `as_of`: rows whose ceiling does not hold then (events after
        # it: future-dated, or a past `as_of`) are all scored ...
        found = await service.store.find(which, unbounded_at=at, limit=SCORED_AT_MOST)
        ranked = await candidates(service.store, found, as_of)
        seen = set(found)  # a ceiling written while this reads may show a proposal twice
        budget = SCORED_AT_MOST - len(found)
        # ... the others in order of their ceiling, until none left could make the list
        chunk_size = min(CEILING_CHUNK, max(16, query.limit))  # a short list scores few
        async for chunk in service.store.by_ceiling(which, at, chunk_size):
            if len(ranked) >= query.limit:
                ranked.sort(key=by_rank)
                del ranked[query.limit :]
                if -ranked[-1].place[0] > chunk[0][2]:
                    break
            if budget <= 0:
                break
            budget -= len(chunk)
            fresh = [(rel, pid) for rel, pid, _ in chunk if (rel, pid) not in seen]
            seen.update(fresh)
            ranked += await candidates(service.store, fresh, as_of)
        ranked.sort(key=by_rank)
        # only the listed are judged with their reasons
        items = [listed(candidate, as_of) for candidate in ranked[: query.limit]]
        answer: dict[str, Any] = {
            "items": items,
            "as_of": as_of.isoformat(),
            # how many match in all, listed or not ("and 58 more pending")
            "matched": await service.store.count(which),
        }
        if query.relationship_id is not None:  # one relationship: what its partner is about
            context = (await service.store.committed([query.relationship_id])).get(
                query.relationship_id
            )
            answer["partner"] = partner(context) if context else None
        return answer

    return [Route("pending", ProposalsQuery, pending, merge=merge_pending)]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposal that may make the list, and its place in it (its `rank`)."""

    place: Rank
    context: PartnerContext
    proposal: Proposal


def by_rank(candidate: Candidate) -> Rank:
    """Most ready first: the order `most_ready_first` gives their items."""
    return candidate.place


async def candidates(
    store: ProposalsStore, found: list[tuple[str, str]], as_of: datetime
) -> list[Candidate]:
    """These proposals, ranked by their readiness score at `as_of` (without the reasons)."""
    contexts = await store.committed(sorted({rel for rel, _ in found}))
    ranked: list[Candidate] = []
    for rel, proposal_id in found:
        context = contexts.get(rel)
        proposal = context.proposal(proposal_id) if context else None
        if context is None or proposal is None:
            continue
        score = readiness_score(context, proposal, as_of)
        place = rank(score, age_days(proposal, as_of), rel, proposal_id)
        ranked.append(Candidate(place, context, proposal))
    return ranked


def listed(candidate: Candidate, as_of: datetime) -> dict[str, Any]:
    """A proposal as the contract lists it, readiness judged at `as_of` with its reasons."""
    context, proposal = candidate.context, candidate.proposal
    return {
        "proposal_id": proposal.proposal_id,
        "relationship_id": context.relationship_id,
        "title": proposal.title,
        "status": proposal.status,
        "age_days": age_days(proposal, as_of),
        "readiness": readiness(context, proposal, as_of).reply(),
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
            for r in context.rejected(proposal.proposal_id)
        ],
    }


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
    return {
        "items": items[: query.limit],
        "as_of": replies[0]["as_of"],
        "matched": sum(reply["matched"] for reply in replies),
    }


def rank(score: int, age: int, relationship_id: str, proposal_id: str) -> Rank:
    """Readiness, then age, then ids: a total order, so partitions merge exactly."""
    return (-score, -age, relationship_id, proposal_id)


def most_ready_first(item: dict[str, Any]) -> Rank:
    """A listed item's `rank`."""
    return rank(
        item["readiness"]["score"], item["age_days"], item["relationship_id"], item["proposal_id"]
    )
