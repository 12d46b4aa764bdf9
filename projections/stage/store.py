"""The stage projection's tables: one row per relationship, and funnel counts kept by deltas."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from events import LEVEL, Stage
from projections.stage.fold import StageView, funnel_delta, funnel_reply
from projections.store_base import SqliteStore, placeholders

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import aiosqlite

_BITS = {stage: 1 << n for n, stage in enumerate(Stage)}
COLUMNS = (
    "relationship_id, stage, since, owner, counterpart, implicit, reached, opened_at, "
    "rejected_changes"
)


def reached_bits(reached: frozenset[Stage]) -> int:
    """The set of reached stages as a bitmask column."""
    return sum(_BITS[stage] for stage in reached)


def view_from_row(row: Sequence[Any]) -> StageView:
    """A StageView from a `COLUMNS` row."""
    rel, stage, since, owner, counterpart, implicit, reached, opened_at, rejected = row
    return StageView(
        relationship_id=rel,
        stage=Stage(stage),
        since=datetime.fromisoformat(since),
        owner=owner,
        counterpart=orjson.loads(counterpart) if counterpart else None,
        implicit=bool(implicit),
        reached=frozenset(s for s, bit in _BITS.items() if reached & bit),
        opened_at=datetime.fromisoformat(opened_at),
        rejected_changes=rejected,
    )


def row_from_view(view: StageView) -> tuple[Any, ...]:
    """The `COLUMNS` row of a StageView."""
    return (
        view.relationship_id,
        view.stage.value,
        view.since.isoformat(),
        view.owner,
        orjson.dumps(view.counterpart).decode() if view.counterpart is not None else None,
        int(view.implicit),
        reached_bits(view.reached),
        view.opened_at.isoformat(),
        view.rejected_changes,
    )


class StageStore(SqliteStore[StageView]):
    """Where each relationship stands; the funnel by owner."""

    tables = (
        f"""CREATE TABLE IF NOT EXISTS stage_view (
            relationship_id TEXT PRIMARY KEY, stage TEXT NOT NULL, since TEXT NOT NULL,
            owner TEXT, counterpart TEXT, implicit INTEGER NOT NULL, reached INTEGER NOT NULL,
            opened_at TEXT NOT NULL, rejected_changes INTEGER NOT NULL
        ) WITHOUT ROWID  -- {COLUMNS}""",
        "CREATE INDEX IF NOT EXISTS stage_by_stage ON stage_view (stage, relationship_id)",
        "CREATE INDEX IF NOT EXISTS stage_by_owner ON stage_view (owner, relationship_id)",
        """CREATE TABLE IF NOT EXISTS funnel_counts (
            owner TEXT NOT NULL, measure TEXT NOT NULL, name TEXT NOT NULL,
            count INTEGER NOT NULL, PRIMARY KEY (owner, measure, name)
        ) WITHOUT ROWID""",
    )

    async def load_rows(self, keys: Sequence[str]) -> dict[str, StageView]:
        """Views of these relationships."""
        sql = (
            f"SELECT {COLUMNS} FROM stage_view WHERE relationship_id IN ({placeholders(len(keys))})"
        )
        async with self.reader.execute(sql, keys) as cursor:
            return {row[0]: view_from_row(row) for row in await cursor.fetchall()}

    async def write_rows(
        self,
        writer: aiosqlite.Connection,
        changes: Mapping[str, tuple[StageView | None, StageView]],
    ) -> None:
        """Upsert changed views and move the funnel counts by their deltas."""
        await writer.executemany(
            f"INSERT INTO stage_view ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(relationship_id) DO UPDATE SET stage=excluded.stage, "
            "since=excluded.since, owner=excluded.owner, counterpart=excluded.counterpart, "
            "implicit=excluded.implicit, reached=excluded.reached, "
            "rejected_changes=excluded.rejected_changes",
            [row_from_view(after) for _, after in changes.values()],
        )
        totals: dict[tuple[str, str, str], int] = {}
        for before, after in changes.values():
            for key, count in funnel_delta(before, after).items():
                totals[key] = totals.get(key, 0) + count
        await writer.executemany(
            "INSERT INTO funnel_counts (owner, measure, name, count) VALUES (?,?,?,?) "
            "ON CONFLICT(owner, measure, name) DO UPDATE SET count = count + excluded.count",
            [(*key, count) for key, count in totals.items() if count],
        )

    # -- queries (reader connection) ------------------------------------------------------

    async def get(self, relationship_id: str) -> StageView | None:
        """One relationship's view (a point read)."""
        row = await self.read_one(
            f"SELECT {COLUMNS} FROM stage_view WHERE relationship_id = ?", (relationship_id,)
        )
        return view_from_row(row) if row else None

    async def list(
        self,
        *,
        stage: str | None = None,
        level: str | None = None,
        owner: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[StageView]:
        """Views in relationship-id order after `after`, filtered."""
        where: list[str] = ["1=1"]
        params: list[str] = []
        if stage is not None:
            where.append("stage = ?")
            params.append(stage)
        if level is not None:
            stages = [s.value for s in Stage if LEVEL[s].value == level]
            where.append(f"stage IN ({placeholders(len(stages))})")
            params.extend(stages)
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if after is not None:
            where.append("relationship_id > ?")
            params.append(after)
        sql = (
            f"SELECT {COLUMNS} FROM stage_view WHERE {' AND '.join(where)} "
            "ORDER BY relationship_id LIMIT ?"
        )
        async with self.reader.execute(sql, [*params, limit]) as cursor:
            return [view_from_row(row) for row in await cursor.fetchall()]

    async def funnel(self, owner: str | None = None) -> dict[str, Any]:
        """The contract's funnel reply, for one owner or everyone."""
        sql = "SELECT measure, name, SUM(count) FROM funnel_counts"
        params: tuple[str, ...] = ()
        if owner is not None:
            sql += " WHERE owner = ?"
            params = (owner,)
        async with self.reader.execute(sql + " GROUP BY measure, name", params) as cursor:
            counts = {
                (measure, name): int(total) for measure, name, total in await cursor.fetchall()
            }
        return funnel_reply(counts)
