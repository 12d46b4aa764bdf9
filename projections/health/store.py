"""The health projection's table: each relationship's state, its owner and when it is due.

Each row also keeps its band and an instant it surely holds until with no new events
(`projections.health.outlook`), and triggers keep a count of rows per (owner, band): the
summary reads the counts and re-scores only the rows whose instant has passed. The projector
writes a state without scoring it (that costs more than folding): it marks the row stale, and
the next summary scores it.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

from projections.health import codec
from projections.health.outlook import outlook
from projections.health.score import touch_due
from projections.store_base import META_UPSERT, SqliteStore, owner_filter

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    import aiosqlite

    from projections.health.fold import HealthState


COUNT_NEW = (
    "INSERT INTO health_bands (owner, band, n) SELECT coalesce(NEW.owner, ''), NEW.band, 1 "
    "WHERE NEW.band IS NOT NULL ON CONFLICT (owner, band) DO UPDATE SET n = n + 1;"
)
UNCOUNT_OLD = (
    "UPDATE health_bands SET n = n - 1 WHERE owner = coalesce(OLD.owner, '') AND band = OLD.band;"
)
REFRESH_CHUNK = 100  # rows re-scored per transaction (~5 ms of the event loop)


class HealthStore(SqliteStore["HealthState"]):
    """States to score at query time (a score depends on the instant it is asked for)."""

    tables = (
        """CREATE TABLE IF NOT EXISTS health_view (
            relationship_id TEXT PRIMARY KEY, owner TEXT, next_due REAL, latest_at REAL NOT NULL,
            state BLOB NOT NULL, band TEXT, band_until REAL NOT NULL DEFAULT -1
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS health_by_due ON health_view (next_due)",
    )
    # after `tables`, once a store of an older shape has the columns (see `open`)
    band_tables = (
        "CREATE INDEX IF NOT EXISTS health_by_band_until ON health_view (band_until)",
        """CREATE TABLE IF NOT EXISTS health_bands (
            owner TEXT NOT NULL, band TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (owner, band)) WITHOUT ROWID""",
        # a row without an owner counts under '' (a key may not be NULL); no owner asks for ''
        f"""CREATE TRIGGER IF NOT EXISTS health_bands_in AFTER INSERT ON health_view
            WHEN NEW.band IS NOT NULL BEGIN {COUNT_NEW} END""",
        f"""CREATE TRIGGER IF NOT EXISTS health_bands_out AFTER DELETE ON health_view
            WHEN OLD.band IS NOT NULL BEGIN {UNCOUNT_OLD} END""",
        f"""CREATE TRIGGER IF NOT EXISTS health_bands_moved AFTER UPDATE OF owner, band
            ON health_view WHEN OLD.owner IS NOT NEW.owner OR OLD.band IS NOT NEW.band
            BEGIN {UNCOUNT_OLD} {COUNT_NEW} END""",
    )

    def __init__(self, path: Path, cache_size: int = 20_000) -> None:
        super().__init__(path, cache_size)
        self._refreshing = asyncio.Lock()  # one summary re-scores stale rows at a time
        self.bands_at = -math.inf  # the latest instant rows were scored at

    async def open(self) -> None:
        """Open the store; a store of an older shape gains the band columns (to be rebuilt)."""
        await super().open()
        async with self.writer.execute("PRAGMA table_info(health_view)") as cursor:
            columns = {row[1] for row in await cursor.fetchall()}
        if "band_until" not in columns:
            await self.writer.execute("ALTER TABLE health_view ADD COLUMN band TEXT")
            await self.writer.execute(
                "ALTER TABLE health_view ADD COLUMN band_until REAL NOT NULL DEFAULT -1"
            )
        for ddl in self.band_tables:
            await self.writer.execute(ddl)
        self.bands_at = float(await self.meta("bands_at", "-inf", reader=False))

    async def load_rows(self, keys: Sequence[str]) -> dict[str, HealthState]:
        """States of these relationships."""
        return await self.read_states("health_view", keys, codec.decode)

    async def write_rows(
        self,
        writer: aiosqlite.Connection,
        changes: Mapping[str, tuple[HealthState | None, HealthState]],
    ) -> None:
        """Upsert changed states with their owner and due time; their band is now stale."""
        await writer.executemany(
            # an upsert updates in place (INSERT OR REPLACE deletes, re-inserts, re-indexes)
            "INSERT INTO health_view (relationship_id, owner, next_due, latest_at, state) "
            "VALUES (?,?,?,?,?) ON CONFLICT(relationship_id) DO UPDATE SET owner=excluded.owner, "
            "next_due=excluded.next_due, latest_at=excluded.latest_at, state=excluded.state, "
            "band_until=-1",
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
        rows = await self.read_all(sql, [*params, limit])
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
        rows = await self.read_all(sql, (*after, upto, limit))
        return [(rel, due, codec.decode(rel, blob)) for rel, due, blob in rows]

    async def next_due_after(self, after: float) -> float | None:
        """The earliest due instant after `after`, if any."""
        sql = "SELECT MIN(next_due) FROM health_view WHERE next_due > ?"
        row = await self.read_one(sql, (after,))
        return None if row is None or row[0] is None else float(row[0])

    # -- bands now: counted by triggers, stale rows re-scored (the summary) -------------------

    async def upkeep(self, now: float) -> bool:
        """Score the bands the projector left stale (`refresh_bands`)."""
        await self.refresh_bands(now)
        return True

    async def refresh_bands(self, now: float) -> float:
        """Re-score the rows whose band may have changed by `now`, and keep what they say.

        Returns the instant the rows are now scored up to: `now`, or a later one when another
        summary already scored them at it (an instant a moment later is as good as now).
        """
        async with self._refreshing:
            now = max(now, self.bands_at)
            after: tuple[float, str] = (-math.inf, "")
            while True:
                sql = (
                    "SELECT relationship_id, band_until, state FROM health_view "
                    "WHERE band_until < ? AND (band_until, relationship_id) > (?, ?) "
                    "ORDER BY band_until, relationship_id LIMIT ?"
                )
                rows = await self.read_all(sql, (now, *after, REFRESH_CHUNK))
                if not rows:
                    break
                updates = []
                for rel, _, blob in rows:
                    band, until = outlook(codec.decode(rel, blob), now)
                    updates.append((band, until, rel, blob))
                await self._write_bands(updates, now)
                after = (rows[-1][1], rows[-1][0])
                if len(rows) < REFRESH_CHUNK:
                    break
                await asyncio.sleep(0)  # let the projector commit between chunks
        return now

    async def _write_bands(
        self, updates: Sequence[tuple[str | None, float, str, bytes]], now: float
    ) -> None:
        async with self.transaction() as writer:
            # only if the state is still the one scored: the projector may have moved on
            await writer.executemany(
                "UPDATE health_view SET band = ?, band_until = ? "
                "WHERE relationship_id = ? AND state = ?",
                updates,
            )
            self.bands_at = max(self.bands_at, now)
            await writer.execute(META_UPSERT, ("bands_at", repr(self.bands_at)))

    async def band_counts(self, now: float, owner: str | None = None) -> dict[str, int] | None:
        """Rows in each band (and `closed`) at `now`, from the counts and the stale rows.

        None when rows were scored after `now` (a past instant): the counts say nothing of it.
        """
        if now < self.bands_at:
            return None
        where, params = "1=1", list[str]()
        if owner is not None:
            where, params = owner_filter(owner)
        # one statement: the counts and the stale rows come from one snapshot of the store
        sql = (
            "SELECT band, SUM(n), NULL, NULL FROM health_bands "
            f"WHERE {where} GROUP BY band "
            "UNION ALL SELECT band, NULL, relationship_id, state FROM health_view "
            f"WHERE band_until < ? AND {where}"
        )
        rows = await self.read_all(sql, [*params, now, *params])
        counts: dict[str, int] = {}
        for band, count, rel, blob in rows:
            if rel is None:
                counts[band] = counts.get(band, 0) + int(count)
                continue
            if band is not None:  # counted where it was; it is where it is now
                counts[band] = counts.get(band, 0) - 1
            now_in = outlook(codec.decode(rel, blob), now).band
            if now_in is not None:
                counts[now_in] = counts.get(now_in, 0) + 1
        return counts
