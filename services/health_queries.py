"""Queries of the health projection: `rapport.q.health.get|list`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events.queries import HealthListQuery, RelationshipQuery
from projections.health import fold as health
from projections.health.score import assess
from projections.health.store import HealthStore
from services.cursors import decode_cursor, encode_cursor
from services.history import read_relationship, valid_until
from services.projection_service import NotFound, ProjectionSpec, Route

if TYPE_CHECKING:
    from services.projection_service import ProjectionService

SCAN_CHUNK = 500
SCAN_LIMIT = 20_000  # rows one list request may score before it returns a cursor


def routes(service: ProjectionService) -> list[Route]:
    """The health queries, scored at the instant asked for (default: now)."""

    def store() -> HealthStore:
        assert isinstance(service.store, HealthStore)
        return service.store

    async def get(query: RelationshipQuery) -> dict[str, Any]:
        as_of = query.as_of or datetime.now(UTC)
        state = await store().get(query.relationship_id)
        if state is not None and as_of.timestamp() < state.latest_at:
            # the stored state knows events after `as_of`: fold the log up to it instead
            state = None
            stored = await read_relationship(service.reader, query.relationship_id)
            for seq, event in valid_until(stored, as_of):
                state = health.apply(state, event, seq)
        if state is None:
            raise NotFound(f"relationship {query.relationship_id}")
        return assess(state, as_of).reply()

    async def list_(query: HealthListQuery) -> dict[str, Any]:
        as_of = query.as_of or datetime.now(UTC)
        due_before = query.due_before.timestamp() if query.due_before else None
        position = decode_cursor(query.cursor) if query.cursor else None
        after: tuple[float, str] | str | None = (
            (position[0], position[1]) if isinstance(position, list) else position
        )
        items: list[dict[str, Any]] = []
        scanned, more = 0, True
        while more and len(items) < query.limit and scanned < SCAN_LIMIT:
            rows = await store().scan(
                owner=query.owner, due_before=due_before, after=after, limit=SCAN_CHUNK
            )
            more = len(rows) == SCAN_CHUNK
            for index, (rel, due, state) in enumerate(rows):
                scanned += 1
                after = (due or 0.0, rel) if due_before is not None else rel
                report = assess(state, as_of).reply()
                if query.band is None or report["band"] == query.band:
                    items.append(report)
                if len(items) == query.limit:
                    more = more or index < len(rows) - 1
                    break
        return {"items": items, "next_cursor": encode_cursor(after) if more else None}

    return [Route("get", RelationshipQuery, get), Route("list", HealthListQuery, list_)]


SPEC = ProjectionSpec(name="health", fold=health.apply, store=HealthStore, routes=routes)
