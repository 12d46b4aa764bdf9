"""The health projection's table: each relationship's state, its owner and when it is due."""

from __future__ import annotations

from typing import TYPE_CHECKING

from projections.health import codec
from projections.health.score import touch_due
from projections.store_base import SqliteStore, owner_filter

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import aiosqlite

    from projections.health.fold import HealthState


class HealthStore(SqliteStore["HealthState"]):
    """States to score at query time (a score depends on the instant it is asked for)."""

    tables = (
        """CREATE TABLE IF NOT EXISTS health_view (
            relationship_id TEXT PRIMARY KEY, owner TEXT, next_due REAL, latest_at REAL NOT NULL,
            state BLOB NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS health_by_due ON health_view (next_due)",
    )

    async def load_rows(self, keys: Sequence[str]) -> dict[str, HealthState]:
        """States of these relationships."""
        return await self.read_states("health_view", keys, codec.decode)

    async def write_rows(
        self,
        writer: aiosqlite.Connection,
        changes: Mapping[str, tuple[HealthState | None, HealthState]],
    ) -> None:
        """Upsert changed states with their owner and due time."""
        await writer.executemany(
            # an upsert updates in place (INSERT OR REPLACE deletes, re-inserts, re-indexes)
            "INSERT INTO health_view (relationship_id, owner, next_due, latest_at, state) "
            "VALUES (?,?,?,?,?) ON CONFLICT(relationship_id) DO UPDATE SET owner=excluded.owner, "
            "next_due=excluded.next_due, latest_at=excluded.latest_at, state=excluded.state",
            [
                (rel, after.owner, touch_due(after), after.latest_at, codec.encode(after))
                for rel, (_, after) in changes.items()
            ],
        )

    # -- queries (reader connection) ------------------------------------------------------

    async def get(self, relationship_id: str) -> HealthState | None:
        """One relationship's state (a point read)."""
        row = await self.read_one(
            "SELECT state FROM health_view WHERE relationship_id = ?", (relationship_id,)
        )
        return codec.decode(relationship_id, row[0]) if row else None

    async def scan(
        self,
        *,
        owner: str | None = None,
        due_before: float | None = None,
        after: tuple[float, str] | str | None = None,
        limit: int = 500,
    ) -> list[tuple[str, float | None, HealthState]]:
        """Rows in relationship-id order, or by due time when `due_before` is given."""
        where: list[str] = ["1=1"]
        params: list[object] = []
        if owner is not None:
            clause, values = owner_filter(owner)
            where.append(clause)
            params.extend(values)
        if due_before is not None:
            where.append("next_due < ?")
            params.append(due_before)
            if isinstance(after, tuple):
                where.append("(next_due, relationship_id) > (?, ?)")
                params.extend(after)
            order = "next_due, relationship_id"
        else:
            if isinstance(after, str):
                where.append("relationship_id > ?")
                params.append(after)
            order = "relationship_id"
        sql = (
            "SELECT relationship_id, next_due, state FROM health_view "
            f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
        )
        async with self.reader.execute(sql, [*params, limit]) as cursor:
            rows = await cursor.fetchall()
        return [(rel, due, codec.decode(rel, blob)) for rel, due, blob in rows]

    # -- touches falling due (the health service's scheduler) --------------------------------

    async def due_between(
        self, after: tuple[float, str], upto: float, limit: int
    ) -> list[tuple[str, float, HealthState]]:
        """Relationships due after `after` (due, id) and at or before `upto`, in that order."""
        sql = (
            "SELECT relationship_id, next_due, state FROM health_view "
            "WHERE (next_due, relationship_id) > (?, ?) AND next_due <= ? "
            "ORDER BY next_due, relationship_id LIMIT ?"
        )
        async with self.reader.execute(sql, (*after, upto, limit)) as cursor:
            rows = await cursor.fetchall()
        return [(rel, due, codec.decode(rel, blob)) for rel, due, blob in rows]

    async def next_due_after(self, after: float) -> float | None:
        """The earliest due instant after `after`, if any."""
        sql = "SELECT MIN(next_due) FROM health_view WHERE next_due > ?"
        row = await self.read_one(sql, (after,))
        return None if row is None or row[0] is None else float(row[0])
