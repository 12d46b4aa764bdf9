"""Queries of the health projection: `rapport.q.health.get|list|summary`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events import Stage
from events.queries import HealthListQuery, HealthSummaryQuery, RelationshipQuery
from projections.health import fold as health
from projections.health.policy import BANDS
from projections.health.score import assess
from services.queries.cursors import (
    decode_due_cursor,
    decode_relationship_cursor,
    encode_cursor,
)
from services.queries.history import events_until, read_relationship
from services.queries.merge import merge_ordered
from services.queries.routes import NotFound, Route

if TYPE_CHECKING:
    from projections.health.store import HealthStore
    from services.queries.routes import Context

SCAN_CHUNK = 500
SCAN_LIMIT = 20_000  # rows one list request may score before it returns a cursor


def routes(context: Context[HealthStore]) -> list[Route]:
    """The health queries, scored at the instant asked for (default: now)."""

    async def get(query: RelationshipQuery) -> dict[str, Any]:
        as_of = query.as_of or datetime.now(UTC)
        state = await context.store.get(query.relationship_id)
        if state is not None and as_of.timestamp() < state.latest_at:
            # the stored state knows events after `as_of`: fold the log up to it instead
            state = None
            stored = await read_relationship(
                context.reader, query.relationship_id, context.first_copies
            )
            for seq, event in events_until(stored, as_of):
                state = health.apply(state, event, seq)
        if state is None:
            raise NotFound(f"relationship {query.relationship_id}")
        return assess(state, as_of).reply()

    async def list_(query: HealthListQuery) -> dict[str, Any]:
        as_of = query.as_of or datetime.now(UTC)
        due_before = query.due_before.timestamp() if query.due_before else None
        after: tuple[float, str] | str | None = None
        if query.cursor and due_before is not None:  # a page by due time goes on from one
            after = decode_due_cursor(query.cursor)
        elif query.cursor:  # and a page by id from an id
            after = decode_relationship_cursor(query.cursor)
        items: list[dict[str, Any]] = []
        scanned, more = 0, True
        while more and len(items) < query.limit and scanned < SCAN_LIMIT:
            rows = await context.store.scan(
                owner=query.owner, due_before=due_before, after=after, limit=SCAN_CHUNK
            )
            more = len(rows) == SCAN_CHUNK
            for index, (rel, due, state) in enumerate(rows):
                scanned += 1
                after = (due or 0.0, rel) if due_before is not None else rel
                report = assess(state, as_of).reply()
                # a closed relationship is in no band: nothing is expected of it any more
                if query.band is None or (
                    report["band"] == query.band and report["stage"] != "closed"
                ):
                    items.append(report)
                if len(items) == query.limit:
                    more = more or index < len(rows) - 1
                    break
        return {"items": items, "next_cursor": encode_cursor(after) if more else None}

    async def summary(query: HealthSummaryQuery) -> dict[str, Any]:
        # Scored from each stored state: exact for now and the future; for a past instant the
        # relationships opened after it are left out, and the rest scored with what was known.
        as_of = query.as_of or datetime.now(UTC)
        bands = {name: 0 for _, name in BANDS}
        closed = 0
        after: str | None = None
        while True:
            rows = await context.store.scan(owner=query.owner, after=after, limit=SCAN_CHUNK)
            for _, _, state in rows:
                if state.opened_at <= as_of.timestamp():
                    report = assess(state, as_of)
                    if report.stage == Stage.CLOSED:  # in no band
                        closed += 1
                    else:
                        bands[report.band] += 1
            if len(rows) < SCAN_CHUNK:
                break
            after = rows[-1][0]
        return {
            "bands": bands,
            "total": sum(bands.values()),
            "closed": closed,
            "owner": query.owner,
            "as_of": as_of.isoformat(),
        }

    return [
        Route("get", RelationshipQuery, get),
        Route("list", HealthListQuery, list_, merge=merge_list),
        Route("summary", HealthSummaryQuery, summary, merge=merge_summary),
    ]


def merge_list(query: HealthListQuery, replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Partition pages merged by due time (with `due_before`) or by relationship id."""
    by_due = query.due_before is not None
    merged = merge_ordered(replies, query.limit, "due" if by_due else "relationship_id")
    last = merged["last"]
    if by_due and last is not None:  # the store's position: (due seconds, relationship id)
        last = [datetime.fromisoformat(last[0].replace("Z", "+00:00")).timestamp(), last[1]]
    return {
        "items": merged["items"],
        "next_cursor": encode_cursor(last) if merged["more"] else None,
    }


def merge_summary(query: HealthSummaryQuery, replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Partition band counts added up."""
    bands = {name: sum(reply["bands"].get(name, 0) for reply in replies) for _, name in BANDS}
    closed = sum(reply.get("closed", 0) for reply in replies)
    return {**replies[0], "bands": bands, "total": sum(bands.values()), "closed": closed}
