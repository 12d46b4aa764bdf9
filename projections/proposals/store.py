"""The proposals projection's tables: partner contexts, and proposals indexed by status.

Each proposal row keeps a readiness ceiling and the instant it holds from (the relationship's
latest event; `projections.proposals.readiness.ceilings`), so the most ready proposals are
found by scoring only those whose ceiling could still put them on the list. The projector
leaves a moved relationship's ceilings unknown (computing them would cost it a quarter of its
rate); `upkeep` computes them in the background, and a query judges the unknown ones itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from projections.proposals import codec
from projections.proposals.readiness import ceilings
from projections.store_base import SqliteStore, owner_filter, placeholders

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence
    from pathlib import Path

    import aiosqlite

    from projections.proposals.fold import PartnerContext

CEILING_CHUNK = 64  # proposals scored at a time, in order of their ceiling (at most)
UPKEEP_CHUNK = 100  # relationships whose ceilings one upkeep transaction computes (~5 ms)


class ProposalsStore(SqliteStore["PartnerContext"]):
    """Contexts to judge readiness at query time; proposals to find them by status."""

    tables = (
        """CREATE TABLE IF NOT EXISTS partner_context (
            relationship_id TEXT PRIMARY KEY, owner TEXT, state BLOB NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS proposals (
            relationship_id TEXT NOT NULL, proposal_id TEXT NOT NULL, status TEXT NOT NULL,
            owner TEXT, opened_at TEXT NOT NULL, ceiling INTEGER, ceiling_from REAL,
            PRIMARY KEY (relationship_id, proposal_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS proposals_by_status ON proposals (status, relationship_id)",
    )
    # after `tables`, once a store of an older shape has the columns (see `open`)
    ceiling_tables = (
        "CREATE INDEX IF NOT EXISTS proposals_by_ceiling ON proposals (ceiling)",
        "CREATE INDEX IF NOT EXISTS proposals_by_owner ON proposals (owner, ceiling)",
        "CREATE INDEX IF NOT EXISTS proposals_by_ceiling_from ON proposals (ceiling_from)",
    )

    def __init__(self, path: Path, cache_size: int = 20_000) -> None:
        super().__init__(path, cache_size)
        self._keeping = asyncio.Lock()  # one upkeep at a time

    async def open(self) -> None:
        """Open the store; one of an older shape gains the ceiling columns (`upkeep` fills
        them in; until then a query judges those rows itself)."""
        await super().open()
        async with self.writer.execute("PRAGMA table_info(proposals)") as cursor:
            columns = {row[1] for row in await cursor.fetchall()}
        if "ceiling" not in columns:
            await self.writer.execute("ALTER TABLE proposals ADD COLUMN ceiling INTEGER")
            await self.writer.execute("ALTER TABLE proposals ADD COLUMN ceiling_from REAL")
        for ddl in self.ceiling_tables:
            await self.writer.execute(ddl)

    async def load_rows(self, keys: Sequence[str]) -> dict[str, PartnerContext]:
        """Contexts of these relationships."""
        return await self.read_states("partner_context", keys, codec.decode)

    async def write_rows(
        self,
        writer: aiosqlite.Connection,
        changes: Mapping[str, tuple[PartnerContext | None, PartnerContext]],
    ) -> None:
        """Upsert changed contexts; rewrite the proposal rows of those whose proposals moved."""
        await writer.executemany(
            "INSERT INTO partner_context (relationship_id, owner, state) VALUES (?,?,?) "
            "ON CONFLICT(relationship_id) DO UPDATE SET owner=excluded.owner, state=excluded.state",
            [(rel, after.owner, codec.encode(after)) for rel, (_, after) in changes.items()],
        )
        # a proposal's ceiling moves with anything its relationship does, not only with it:
        # it is now unknown (NULL), until `upkeep` computes it off the projector's hot path
        rows = [
            (rel, p.proposal_id, p.status, after.owner, p.opened_at.isoformat())
            for rel, (_, after) in changes.items()
            for p in after.proposals
        ]
        if rows:
            await writer.executemany(
                "INSERT INTO proposals (relationship_id, proposal_id, status, owner, opened_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT(relationship_id, proposal_id) DO UPDATE SET "
                "status=excluded.status, owner=excluded.owner, opened_at=excluded.opened_at, "
                "ceiling=NULL, ceiling_from=NULL",
                rows,
            )

    async def upkeep(self, now: float) -> bool:
        """Compute the ceilings the projector left unknown, a chunk of relationships at a time."""
        async with self._keeping:
            after = ""
            while True:
                found = await self.read_all(
                    "SELECT DISTINCT relationship_id FROM proposals "
                    "WHERE ceiling IS NULL AND relationship_id > ? ORDER BY relationship_id "
                    "LIMIT ?",
                    (after, UPKEEP_CHUNK),
                )
                rels = [rel for (rel,) in found]
                if not rels:
                    return True
                after = rels[-1]
                states = await self.read_all(
                    "SELECT relationship_id, state FROM partner_context "
                    f"WHERE relationship_id IN ({placeholders(len(rels))})",
                    rels,
                )
                updates = []
                for rel, blob in states:
                    start, ceiling = ceilings(codec.decode(rel, blob))
                    updates += [
                        (value, start, rel, pid, rel, blob) for pid, value in ceiling.items()
                    ]
                await self._write_ceilings(updates)
                await asyncio.sleep(0)  # let the projector commit between chunks

    async def _write_ceilings(
        self, updates: Sequence[tuple[int, float, str, str, str, bytes]]
    ) -> None:
        async with self.transaction() as writer:
            # only if the context is still the one judged: the projector may have moved on
            await writer.executemany(
                "UPDATE proposals SET ceiling = ?, ceiling_from = ? "
                "WHERE relationship_id = ? AND proposal_id = ? AND (SELECT state FROM "
                "partner_context WHERE relationship_id = ?) = ?",
                updates,
            )

    # -- queries (reader connection) ------------------------------------------------------

    async def find(
        self, which: Which, *, unbounded_at: float | None = None, limit: int = 1000
    ) -> list[tuple[str, str]]:
        """(relationship id, proposal id) of these proposals, oldest first.

        With `unbounded_at`, only those whose ceiling does not hold at that instant (the
        relationship has events after it, or the row has no ceiling yet).
        """
        sql, params = self.find_query(which, unbounded_at, limit)
        return [(rel, pid) for rel, pid in await self.read_all(sql, params)]

    @staticmethod
    def find_query(
        which: Which, unbounded_at: float | None = None, limit: int = 1000
    ) -> tuple[str, list[object]]:
        """The SQL of `find`."""
        where, params = which.where()
        if unbounded_at is not None:
            # from the ceiling indexes (few rows), not by status (nearly every row is pending)
            where[0] = f"+{where[0]}"
            where.append("(ceiling IS NULL OR ceiling_from > ?)")
            params.append(unbounded_at)
        sql = (
            "SELECT relationship_id, proposal_id FROM proposals "
            f"WHERE {' AND '.join(where)} ORDER BY opened_at LIMIT ?"
        )
        return sql, [*params, limit]

    async def count(self, which: Which) -> int:
        """How many of these proposals there are (read from the status index, once until the
        store changes: at 50 000 pending that read takes 3 ms)."""
        where, params = which.where()
        sql = f"SELECT count(*) FROM proposals WHERE {' AND '.join(where)}"

        async def read() -> int:
            row = await self.read_one(sql, params)
            return int(row[0]) if row else 0

        return await self.memo(("count", sql, *params), read)

    async def by_ceiling(
        self, which: Which, at: float, chunk: int = CEILING_CHUNK
    ) -> AsyncIterator[list[tuple[str, str, int]]]:
        """(relationship id, proposal id, ceiling) of those whose ceiling holds at `at`, in
        chunks, the highest ceiling first.

        Each chunk is read on its own, after the last one's place in the ceiling index (no
        statement stays open while the caller scores a chunk: see `read_all`). A proposal
        whose ceiling moves while they are read is found where the next chunk finds it:
        missed, or found again (a caller keeps one of each).
        """
        after: tuple[int, str, str] | None = None
        while True:
            sql, params = self.ceiling_query(which, at, after, chunk)
            rows: list[tuple[str, str, int]] = [
                (rel, pid, ceiling) for rel, pid, ceiling in await self.read_all(sql, params)
            ]
            if rows:
                yield rows
            if len(rows) < chunk:
                return
            rel, pid, ceiling = rows[-1]
            after = (ceiling, rel, pid)

    @staticmethod
    def ceiling_query(
        which: Which,
        at: float,
        after: tuple[int, str, str] | None = None,
        limit: int = CEILING_CHUNK,
    ) -> tuple[str, list[object]]:
        """The SQL of a chunk of `by_ceiling`, the next after `after` (ceiling, relationship
        id, proposal id): it reads an index in ceiling order (no sort of every row)."""
        where, params = which.where()
        # `+status`: not by the status index (nearly every row is pending), but in ceiling order
        where[0] = f"+{where[0]}"
        if which.owner is not None and "@" not in which.owner:
            # one range of the owner index that holds `maria` and every `maria@…`
            where.append("owner >= ? AND owner < ?")
            params += [which.owner, f"{which.owner}A"]
        where.append("ceiling_from <= ?")
        params.append(at)
        if after is not None:
            # the index holds (ceiling, relationship_id, proposal_id): one place in it
            where.append("(ceiling, relationship_id, proposal_id) < (?, ?, ?)")
            params += list(after)
        sql = (
            "SELECT relationship_id, proposal_id, ceiling FROM proposals "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY ceiling DESC, relationship_id DESC, proposal_id DESC LIMIT ?"
        )
        return sql, [*params, limit]


@dataclass(frozen=True, slots=True)
class Which:
    """The proposals a query asks about: in these statuses, and of whom if it says."""

    statuses: Sequence[str]
    relationship_id: str | None = None
    proposal_id: str | None = None
    owner: str | None = None

    def where(self) -> tuple[list[str], list[object]]:
        """SQL conditions (the status first) and their parameters."""
        where = [f"status IN ({placeholders(len(self.statuses))})"]
        params: list[object] = list(self.statuses)
        if self.relationship_id is not None:
            where.append("relationship_id = ?")
            params.append(self.relationship_id)
        if self.proposal_id is not None:
            where.append("proposal_id = ?")
            params.append(self.proposal_id)
        if self.owner is not None:
            clause, values = owner_filter(self.owner)
            where.append(clause)
            params.extend(values)
        return where, params
