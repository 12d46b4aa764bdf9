"""Search (`stage.list q=`) reads the FTS5 index and primary keys, never a scan of every view."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import orjson

from events import parse_event
from projections.stage.fold import apply
from projections.stage.store import StageStore
from tests.factories import event

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import pytest

    from projections.stage.fold import StageView

RELATIONSHIPS = 3000


async def test_the_search_plan_uses_the_full_text_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StageStore(tmp_path / "stage.db")
    await store.open()
    statements: list[tuple[str, Sequence[Any]]] = []
    read_all = store.read_all

    async def traced(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        statements.append((sql, params))
        return await read_all(sql, params)

    try:
        changes: dict[str, tuple[StageView | None, StageView]] = {}
        for number in range(RELATIONSHIPS):
            who = {"name": f"Person {number:05d}", "organization": f"Org {number % 50}"}
            data = {"owner": f"owner-{number % 7}@example.com", "counterpart": who}
            parsed = parse_event(orjson.dumps(event("connection.made", f"r{number}", data)))
            changes[parsed.subject] = (None, apply(None, parsed, number + 1))
        await store.commit(changes, RELATIONSHIPS, [])
        monkeypatch.setattr(store, "read_all", traced)
        found = await store.list(q="person 0123", limit=20)
        by_owner = await store.list(q="org", owner="owner-3", limit=20)
    finally:
        await store.close()
    assert [view.relationship_id for view in found] == [f"r{n}" for n in range(1230, 1240)]
    assert len(by_owner) == 20
    searches = [(sql, params) for sql, params in statements if "MATCH" in sql]
    assert len(searches) == 2
    with sqlite3.connect(tmp_path / "stage.db") as db:
        for sql, params in searches:
            plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert any(
                step.startswith("SCAN stage_search VIRTUAL TABLE INDEX") and ":M" in step
                for step in plan
            ), plan  # the FTS5 index answers the MATCH
            assert not any(step.startswith("SCAN stage_view") for step in plan), plan
            assert not any(step.startswith("SCAN search_keys") for step in plan), plan
