"""A store's reads see every commit before them, even while a long query is half read.

The projector reads the ids and states of its next batch through the store's read connection,
the same one the queries use. A query statement left open across an `await` holds a read
transaction that every other read on that connection joins: they would see the store as it was
when the query began, and a copy of an event committed since would be folded a second time.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from events.proposal_rules import PENDING
from projections.proposals.store import ProposalsStore, Which
from tests.factories import partner_life
from tests.folding import fold_context

if TYPE_CHECKING:
    from pathlib import Path

    from projections.proposals.fold import PartnerContext


def contexts(count: int) -> dict[str, PartnerContext]:
    rnd = random.Random(5)
    found: dict[str, PartnerContext] = {}
    for n in range(count):
        rel = f"rel-{n:03d}"
        context = fold_context(*partner_life(rnd, rel))
        if any(p.status in PENDING for p in context.proposals):
            found[rel] = context
    return found


async def test_reads_see_commits_made_while_a_ranking_is_half_read(tmp_path: Path) -> None:
    store = ProposalsStore(tmp_path / "proposals.db", cache_size=0)  # every state from disk
    await store.open()
    try:
        first = contexts(60)
        assert len(first) > 8
        await store.commit({rel: (None, c) for rel, c in first.items()}, 1, [("a", 1, b"1")])
        assert await store.upkeep(1e12)  # every proposal gets its ceiling
        ranking = store.by_ceiling(Which(sorted(PENDING)), 1e12, chunk=2)
        seen = await anext(ranking)  # a query, suspended between two of its chunks
        assert len(seen) == 2

        later = fold_context(*partner_life(random.Random(6), "later"))
        await store.commit({"later": (None, later)}, 2, [("b", 2, b"2")])

        assert await store.first_copies({"a", "b"}) == {"a": (1, b"1"), "b": (2, b"2")}
        assert set(await store.load({"later"})) == {"later"}
        assert await store.meta("checkpoint", "0") == "2"

        rest = [row async for chunk in ranking for row in chunk]
        ranked = [*seen, *rest]
        assert len(ranked) == len(set(ranked))  # none twice
        assert [ceiling for _, _, ceiling in ranked] == sorted(
            (ceiling for _, _, ceiling in ranked), reverse=True
        )
        assert {(rel, pid) for rel, pid, _ in ranked} >= {
            (rel, p.proposal_id)
            for rel, c in first.items()
            for p in c.proposals
            if p.status in PENDING
        }
    finally:
        await store.close()
