"""Queries of the stage projection: `rapport.q.stage.get|list|funnel`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from events.queries import FunnelQuery, OwnersQuery, RelationshipQuery, StageListQuery
from events.subjects import AUDIT_SUBJECT
from projections.audit import audit
from projections.stage import fold as stage
from services.queries.cursors import decode_relationship_cursor, encode_cursor
from services.queries.history import events_until, read_relationship
from services.queries.merge import merge_funnel, merge_ordered
from services.queries.routes import NotFound, Route

if TYPE_CHECKING:
    from projections.stage.fold import StageView
    from projections.stage.store import StageStore
    from services.queries.routes import Context


def routes(context: Context[StageStore]) -> list[Route]:
    """The stage queries, answered from `service`'s store."""

    async def get(query: RelationshipQuery) -> dict[str, Any]:
        if query.as_of is not None:
            # time travel: fold this relationship's events up to the instant, in stream order
            view: StageView | None = None
            stored = await read_relationship(
                context.reader, query.relationship_id, context.first_copies
            )
            for seq, event in events_until(stored, query.as_of):
                view = stage.apply(view, event, seq)
        else:
            view = await context.store.get(query.relationship_id)
        if view is None:
            raise NotFound(f"relationship {query.relationship_id}")
        reply = view.reply()
        if query.as_of is not None:
            reply["as_of"] = query.as_of.isoformat()
        return reply

    async def list_(query: StageListQuery) -> dict[str, Any]:
        after = decode_relationship_cursor(query.cursor) if query.cursor else None
        views = await context.store.list(
            stage=query.stage.value if query.stage else None,
            level=query.level.value if query.level else None,
            owner=query.owner,
            q=query.q,
            after=after,
            limit=query.limit + 1,
        )
        more = len(views) > query.limit
        views = views[: query.limit]
        return {
            "items": [view.reply() for view in views],
            "next_cursor": encode_cursor(views[-1].relationship_id) if more else None,
        }

    async def audit_(query: RelationshipQuery) -> dict[str, Any]:
        stored = await read_relationship(
            context.reader, query.relationship_id, context.first_copies
        )
        events = events_until(stored, query.as_of)
        if not events:  # like stage.get: nothing had happened to it by then
            raise NotFound(f"relationship {query.relationship_id}")
        result = audit(query.relationship_id, events)
        reply = result.reply()
        reply["as_of"] = query.as_of.isoformat() if query.as_of else None
        reply["events_read"] = result.events
        return reply

    async def owners(query: OwnersQuery) -> dict[str, Any]:
        return {"owners": await context.store.owners()}

    async def funnel(query: FunnelQuery) -> dict[str, Any]:
        reply = await context.store.funnel(query.owner)
        reply["owner"] = query.owner
        return reply

    return [
        Route("get", RelationshipQuery, get),
        Route("list", StageListQuery, list_, merge=merge_list),
        Route("funnel", FunnelQuery, funnel, merge=merge_funnel_replies),
        Route("owners", OwnersQuery, owners, merge=merge_owners),
        Route("audit", RelationshipQuery, audit_, subject=AUDIT_SUBJECT),
    ]


def merge_list(query: StageListQuery, replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Partition pages merged in relationship-id order."""
    merged = merge_ordered(replies, query.limit, "relationship_id")
    return {
        "items": merged["items"],
        "next_cursor": encode_cursor(merged["last"]) if merged["more"] else None,
    }


def merge_funnel_replies(query: FunnelQuery, replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Partition funnels added up."""
    return {**merge_funnel(replies), "owner": query.owner}


def merge_owners(query: OwnersQuery, replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Partition counts added up, owners in order."""
    totals: dict[str, int] = {}
    for reply in replies:
        for owner, count in reply["owners"].items():
            totals[owner] = totals.get(owner, 0) + count
    return {"owners": dict(sorted(totals.items()))}
