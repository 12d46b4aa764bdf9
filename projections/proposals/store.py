"""The proposals projection's tables: partner contexts, and proposals indexed by status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from projections.proposals import codec
from projections.store_base import SqliteStore, owner_filter, placeholders

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import aiosqlite

    from projections.proposals.fold import PartnerContext


class ProposalsStore(SqliteStore["PartnerContext"]):
    """Contexts to judge readiness at query time; proposals to find them by status."""

    tables = (
        """CREATE TABLE IF NOT EXISTS partner_context (
            relationship_id TEXT PRIMARY KEY, owner TEXT, state BLOB NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS proposals (
            relationship_id TEXT NOT NULL, proposal_id TEXT NOT NULL, status TEXT NOT NULL,
            owner TEXT, opened_at TEXT NOT NULL, PRIMARY KEY (relationship_id, proposal_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS proposals_by_status ON proposals (status, relationship_id)",
    )

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
        rows = [
            (rel, p.proposal_id, p.status, after.owner, p.opened_at.isoformat())
            for rel, (before, after) in changes.items()
            if after.proposals
            and (
                before is None or (before.proposals, before.owner) != (after.proposals, after.owner)
            )
            for p in after.proposals
        ]
        if rows:
            await writer.executemany(
                "INSERT OR REPLACE INTO proposals "
                "(relationship_id, proposal_id, status, owner, opened_at) VALUES (?,?,?,?,?)",
                rows,
            )

    # -- queries (reader connection) ------------------------------------------------------

    async def find(
        self,
        statuses: Sequence[str],
        *,
        relationship_id: str | None = None,
        owner: str | None = None,
        limit: int = 1000,
    ) -> list[tuple[str, str]]:
        """(relationship id, proposal id) of proposals in these statuses."""
        where = [f"status IN ({placeholders(len(statuses))})"]
        params: list[object] = list(statuses)
        if relationship_id is not None:
            where.append("relationship_id = ?")
            params.append(relationship_id)
        if owner is not None:
            clause, values = owner_filter(owner)
            where.append(clause)
            params.extend(values)
        sql = (
            "SELECT relationship_id, proposal_id FROM proposals "
            f"WHERE {' AND '.join(where)} ORDER BY opened_at LIMIT ?"
        )
        async with self.reader.execute(sql, [*params, limit]) as cursor:
            return [(rel, pid) for rel, pid in await cursor.fetchall()]
