"""Queries of the health projection: `rapport.q.health.get|list|summary|curve`."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events import Stage
from events.queries import (
    HealthCurveQuery,
    HealthListQuery,
    HealthSummaryQuery,
    RelationshipQuery,
)
from projections.health import fold as health
from projections.health.curve import states_at
from projections.health.outlook import CLOSED
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
    from projections.health.fold import HealthState
    from projections.health.store import HealthStore
    from services.queries.routes import Context

SCAN_CHUNK = 500
SCAN_LIMIT = 20_000  # rows one list request may score before it returns a cursor
CURVES_KEPT = 256
CurveKey = tuple[str, tuple[datetime, ...]]  # relationship id, instants


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
        # without a band every row read is an item: read no more than a page (and one more)
        chunk = SCAN_CHUNK if query.band is not None else min(SCAN_CHUNK, query.limit + 1)
        while more and len(items) < query.limit and scanned < SCAN_LIMIT:
            rows = await context.store.scan(
                owner=query.owner, due_before=due_before, after=after, limit=chunk
            )
            more = len(rows) == chunk
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

    # Curves drawn lately, with the state they were drawn from: every event that moves a score
    # changes the state, so an unchanged state means an unchanged curve (a long history's
    # curve costs a read of its whole log; a page shown again is answered from here).
    curves: OrderedDict[CurveKey, tuple[HealthState, dict[str, Any]]] = OrderedDict()
    # and the ones being drawn: the same curve asked again meanwhile waits for that drawing
    drawing: dict[CurveKey, tuple[HealthState | None, asyncio.Future[dict[str, Any]]]] = {}

    async def curve(query: HealthCurveQuery) -> dict[str, Any]:
        key = (query.relationship_id, query.instants)
        now = await context.store.get(query.relationship_id)
        kept = curves.get(key)
        if kept is not None and kept[0] == now:
            curves.move_to_end(key)
            return kept[1]
        underway = drawing.get(key)
        if underway is not None and underway[0] == now:
            return await asyncio.shield(underway[1])
        task = asyncio.ensure_future(draw(query))
        drawing[key] = (now, task)
        try:
            reply = await asyncio.shield(task)
        finally:
            if drawing.get(key, (None, None))[1] is task:
                del drawing[key]
        if now is not None:
            curves[key] = (now, reply)
            while len(curves) > CURVES_KEPT:
                curves.popitem(last=False)
        return reply

    async def draw(query: HealthCurveQuery) -> dict[str, Any]:
        # one read of the log and one fold: each point is what `get` with that as_of answers
        stored = await read_relationship(
            context.reader, query.relationship_id, context.first_copies
        )
        events = events_until(stored, None)
        if not events:
            raise NotFound(f"relationship {query.relationship_id}")
        points = []
        for instant, state in zip(query.instants, states_at(events, query.instants), strict=True):
            point: dict[str, Any] = {"as_of": instant.isoformat().replace("+00:00", "Z")}
            if state is None:  # nothing had happened to it by then
                point.update(score=None, band=None, stage=None)
            else:
                report = assess(state, instant)
                point.update(score=report.score, band=report.band, stage=report.stage.value)
            points.append(point)
        return {"relationship_id": query.relationship_id, "points": points}

    async def summary(query: HealthSummaryQuery) -> dict[str, Any]:
        # Counted by band as the store keeps them, re-scoring only the rows whose band may have
        # changed since they were scored (`HealthStore.band_counts`); exact for now and after.
        as_of = query.as_of or datetime.now(UTC)
        now = as_of.timestamp()
        if query.as_of is None:  # keep what the stale rows say: the next summary is quicker
            now = await context.store.refresh_bands(now)
            as_of = datetime.fromtimestamp(now, UTC)
        counts = await context.store.band_counts(now, query.owner)
        if counts is None:  # an instant before the rows were scored: score every state
            return await scan_summary(query, as_of)
        bands = {name: counts.get(name, 0) for _, name in BANDS}
        return {
            "bands": bands,
            "total": sum(bands.values()),
            "closed": counts.get(CLOSED, 0),
            "owner": query.owner,
            "as_of": as_of.isoformat(),
        }

    async def scan_summary(query: HealthSummaryQuery, as_of: datetime) -> dict[str, Any]:
        # Scored from each stored state: exact for now and the future; for a past instant the
        # relationships opened after it are left out, and the rest scored with what was known.
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
        Route("curve", HealthCurveQuery, curve),
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
