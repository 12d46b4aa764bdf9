"""The stage projection's tables: one row per relationship, funnel counts kept by deltas, and
a full-text index of who each relationship is with (name, organization, email, tags)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from events import LEVEL, Stage
from projections.stage.fold import StageView, funnel_delta, funnel_reply
from projections.store_base import SqliteStore, owner_filter, placeholders

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import aiosqlite

_BITS = {stage: 1 << n for n, stage in enumerate(Stage)}
COLUMNS = (
    "relationship_id, stage, since, owner, counterpart, implicit, reached, opened_at, "
    "rejected_changes, owner_mark"
)
ROW = "(" + placeholders(COLUMNS.count(",") + 1) + ")"  # `(?,?,…)`, one per column


WORD = re.compile(r"\w+")


def search_text(counterpart: Mapping[str, Any] | None) -> str:
    """What a relationship is found by: the counterpart's name, organization, email and tags."""
    if not counterpart:
        return ""
    parts = [counterpart.get(key) for key in ("name", "organization", "email")]
    parts += list(counterpart.get("tags") or ())
    return " ".join(str(part) for part in parts if part)


def match_expression(q: str) -> str | None:
    """SQLite FTS5 for `q`: every word, as a prefix (None when `q` has no word at all)."""
    words = WORD.findall(q)
    return " AND ".join(f'"{word}"*' for word in words) if words else None


def reached_bits(reached: frozenset[Stage]) -> int:
    """The set of reached stages as a bitmask column."""
    return sum(_BITS[stage] for stage in reached)


def view_from_row(row: Sequence[Any]) -> StageView:
    """A StageView from a `COLUMNS` row."""
    rel, stage, since, owner, counterpart, implicit, reached, opened_at, rejected, mark = row
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
        owner_mark=tuple(orjson.loads(mark)) if mark else None,
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
        orjson.dumps(view.owner_mark).decode() if view.owner_mark else None,
    )


class StageStore(SqliteStore[StageView]):
    """Where each relationship stands; the funnel by owner."""

    tables = (
        f"""CREATE TABLE IF NOT EXISTS stage_view (
            relationship_id TEXT PRIMARY KEY, stage TEXT NOT NULL, since TEXT NOT NULL,
            owner TEXT, counterpart TEXT, implicit INTEGER NOT NULL, reached INTEGER NOT NULL,
            opened_at TEXT NOT NULL, rejected_changes INTEGER NOT NULL, owner_mark TEXT
        ) WITHOUT ROWID  -- {COLUMNS}""",
        "CREATE INDEX IF NOT EXISTS stage_by_stage ON stage_view (stage, relationship_id)",
        "CREATE INDEX IF NOT EXISTS stage_by_owner ON stage_view (owner, relationship_id)",
        """CREATE TABLE IF NOT EXISTS funnel_counts (
            owner TEXT NOT NULL, measure TEXT NOT NULL, name TEXT NOT NULL,
            count INTEGER NOT NULL, PRIMARY KEY (owner, measure, name)
        ) WITHOUT ROWID""",
        # the search: FTS5 rows are numbered, relationships are not; `search_keys` numbers them
        """CREATE TABLE IF NOT EXISTS search_keys (
            n INTEGER PRIMARY KEY, relationship_id TEXT NOT NULL UNIQUE
        )""",
        """CREATE VIRTUAL TABLE IF NOT EXISTS stage_search USING fts5(
            words, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
        )""",
    )

    async def load_rows(self, keys: Sequence[str]) -> dict[str, StageView]:
        """Views of these relationships."""
        sql = (
            f"SELECT {COLUMNS} FROM stage_view WHERE relationship_id IN ({placeholders(len(keys))})"
        )
        return {row[0]: view_from_row(row) for row in await self.read_all(sql, keys)}

    async def write_rows(
        self,
        writer: aiosqlite.Connection,
        changes: Mapping[str, tuple[StageView | None, StageView]],
    ) -> None:
        """Upsert changed views and move the funnel counts by their deltas."""
        await writer.executemany(
            f"INSERT INTO stage_view ({COLUMNS}) VALUES {ROW} "
            "ON CONFLICT(relationship_id) DO UPDATE SET stage=excluded.stage, "
            "since=excluded.since, owner=excluded.owner, counterpart=excluded.counterpart, "
            "implicit=excluded.implicit, reached=excluded.reached, "
            "rejected_changes=excluded.rejected_changes, owner_mark=excluded.owner_mark",
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
        await self._index(writer, changes)

    async def _index(
        self,
        writer: aiosqlite.Connection,
        changes: Mapping[str, tuple[StageView | None, StageView]],
    ) -> None:
        """Keep the search index up to date with the counterparts that changed."""
        found = [
            (key, search_text(after.counterpart))
            for key, (before, after) in changes.items()
            if before is None or before.counterpart != after.counterpart
        ]
        if not found:
            return
        await writer.executemany(
            "INSERT INTO search_keys (relationship_id) VALUES (?) ON CONFLICT DO NOTHING",
            [(key,) for key, _ in found],
        )
        await writer.executemany(
            "INSERT OR REPLACE INTO stage_search (rowid, words) "
            "SELECT n, ? FROM search_keys WHERE relationship_id = ?",
            [(text, key) for key, text in found],
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
        q: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[StageView]:
        """Views in relationship-id order after `after`, filtered (`q`: words, as prefixes)."""
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
            clause, values = owner_filter(owner)
            where.append(clause)
            params.extend(values)
        if q is not None:
            expression = match_expression(q)
            if expression is None:
                return []
            where.append(
                "relationship_id IN (SELECT relationship_id FROM search_keys WHERE n IN "
                "(SELECT rowid FROM stage_search WHERE stage_search MATCH ?))"
            )
            params.append(expression)
        if after is not None:
            where.append("relationship_id > ?")
            params.append(after)
        sql = (
            f"SELECT {COLUMNS} FROM stage_view WHERE {' AND '.join(where)} "
            "ORDER BY relationship_id LIMIT ?"
        )
        return [view_from_row(row) for row in await self.read_all(sql, [*params, limit])]

    async def funnel(self, owner: str | None = None) -> dict[str, Any]:
        """The contract's funnel reply, for one owner or everyone."""
        sql = "SELECT measure, name, SUM(count) FROM funnel_counts"
        params: list[str] = []
        if owner is not None:
            clause, params = owner_filter(owner)
            sql += f" WHERE {clause}"
        rows = await self.read_all(sql + " GROUP BY measure, name", params)
        counts = {(measure, name): int(total) for measure, name, total in rows}
        return funnel_reply(counts)

    async def owners(self) -> dict[str, int]:
        """Every owner, with how many relationships they hold (from the funnel counts)."""
        sql = (
            "SELECT owner, SUM(count) FROM funnel_counts WHERE measure = 'now' AND owner != '' "
            "GROUP BY owner HAVING SUM(count) > 0 ORDER BY owner"
        )
        return {owner: int(total) for owner, total in await self.read_all(sql)}
