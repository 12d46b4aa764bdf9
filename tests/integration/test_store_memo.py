"""What a store remembers for queries holds only until a write commits (real SQLite)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from projections.proposals.store import ProposalsStore, Which
from projections.store_base import SqliteStore

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


class Notes(SqliteStore[str]):
    """A store of one text per key, counting how often its rows are read."""

    tables = ("CREATE TABLE IF NOT EXISTS notes (key TEXT PRIMARY KEY, text TEXT NOT NULL)",)

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.rows_read: list[str] = []

    async def load_rows(self, keys: Sequence[str]) -> dict[str, str]:
        self.rows_read += keys
        found: dict[str, str] = {}
        for key in keys:
            row = await self.read_one("SELECT text FROM notes WHERE key=?", (key,))
            if row is not None:
                found[key] = str(row[0])
        return found

    async def write(self, key: str, text: str) -> None:
        async with self.transaction() as writer:
            await writer.execute("INSERT OR REPLACE INTO notes VALUES (?, ?)", (key, text))


async def test_states_are_read_once_until_a_write_commits(tmp_path: Path) -> None:
    store = Notes(tmp_path / "notes.db")
    await store.open()
    try:
        await store.write("a", "one")
        assert await store.committed(["a", "b"]) == {"a": "one"}
        assert await store.committed(["b", "a"]) == {"a": "one"}
        assert store.rows_read == ["a", "b"]  # an absent one is remembered as absent
        await store.write("b", "two")
        assert await store.committed(["a", "b"]) == {"a": "one", "b": "two"}
        assert store.rows_read == ["a", "b", "a", "b"]
    finally:
        await store.close()


async def test_what_is_read_while_a_write_commits_is_not_kept(tmp_path: Path) -> None:
    store = Notes(tmp_path / "notes.db")
    await store.open()
    reads: list[str] = []

    async def read_then_written() -> str:
        reads.append("read")
        found = await store.load_rows(["a"])
        await store.write("a", f"written after read {len(reads)}")
        return found.get("a", "none")

    try:
        assert await store.memo("a", read_then_written) == "none"
        assert await store.memo("a", read_then_written) == "written after read 1"
        assert reads == ["read", "read"]
    finally:
        await store.close()


async def test_the_count_of_pending_proposals_follows_the_store(tmp_path: Path) -> None:
    store = ProposalsStore(tmp_path / "proposals.db")
    await store.open()

    async def add(rel: str, status: str) -> None:
        async with store.transaction() as writer:
            await writer.execute(
                "INSERT INTO proposals (relationship_id, proposal_id, status, opened_at) "
                "VALUES (?, 'p', ?, '2026-01-01')",
                (rel, status),
            )

    try:
        pending = ["drafted", "submitted"]
        assert await store.count(Which(pending)) == 0
        await add("r1", "drafted")
        assert await store.count(Which(pending)) == 1
        assert await store.count(Which(pending)) == 1
        await add("r2", "accepted")
        await add("r3", "submitted")
        assert await store.count(Which(pending)) == 2
        assert await store.count(Which(["accepted"])) == 1
        assert await store.count(Which(pending, relationship_id="r1")) == 1
    finally:
        await store.close()
