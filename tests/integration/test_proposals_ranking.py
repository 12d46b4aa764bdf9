"""`proposals.pending` finds the most ready by their ceilings, and answers as if it scored all.

The oracle folds the same events here, judges every proposal with `readiness` at the instant
asked and sorts by the contract's order; the service must agree while scoring only a few.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from events.proposal_rules import PENDING
from projections.proposals.readiness import age_days, ceilings, readiness
from projections.proposals.store import ProposalsStore, Which
from services.queries import proposals as proposal_queries
from tests.factories import BASE_TIME, event, partner_life
from tests.folding import fold_context
from tests.publishing import ask, publish, publish_all
from tests.services import wait_kept

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from projections.proposals.fold import PartnerContext, Proposal
    from services.projection.service import ProjectionService

OWNERS = ("maria", "li@example.com", "sam")


def lives(count: int) -> dict[str, list[dict[str, Any]]]:
    rnd = random.Random(11)
    return {
        f"rel-{n:03d}": partner_life(rnd, f"rel-{n:03d}", owner=OWNERS[n % 3]) for n in range(count)
    }


def expected(
    contexts: dict[str, PartnerContext],
    as_of: datetime,
    limit: int,
    statuses: set[str],
    owner: str | None = None,
) -> list[tuple[str, str, int]]:
    """(relationship, proposal, readiness) of every matching proposal, judged one by one."""
    judged: list[tuple[int, int, str, str]] = []
    for rel, context in contexts.items():
        if owner is not None and context.owner != owner:
            continue
        for proposal in context.proposals:
            if proposal.status in statuses:
                score = readiness(context, proposal, as_of).score
                judged.append((-score, -age_days(proposal, as_of), rel, proposal.proposal_id))
    judged.sort()
    return [(rel, pid, -score) for score, _, rel, pid in judged[:limit]]


def answered(reply: dict[str, Any]) -> list[tuple[str, str, int]]:
    assert "error" not in reply, reply
    return [
        (item["relationship_id"], item["proposal_id"], item["readiness"]["score"])
        for item in reply["items"]
    ]


async def test_the_most_ready_are_found_without_scoring_them_all(
    nc: NATS, services: dict[str, ProjectionService[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_relationship = lives(240)
    # one relationship's latest event is dated after the instants asked: its ceiling does not
    # hold then, so it is judged with the others
    by_relationship["rel-000"].append(
        event("interaction.recorded", "rel-000", days=400, sentiment=0.9)
        | {"data": {"kind": "meeting", "direction": "mutual", "sentiment": 0.9}}
    )
    envelopes = [e for life in by_relationship.values() for e in life]
    await publish_all(nc, envelopes[:-1])
    last = await publish(nc, envelopes[-1])
    contexts = {rel: fold_context(*life) for rel, life in by_relationship.items()}
    total = sum(len(c.proposals) for c in contexts.values())
    pending = set(PENDING)

    scored = 0

    def counting(context: PartnerContext, proposal: Proposal, as_of: datetime) -> Any:
        nonlocal scored
        scored += 1
        return readiness(context, proposal, as_of)

    monkeypatch.setattr(proposal_queries, "readiness", counting)
    now = datetime.now(UTC)
    # before the upkeep computed the ceilings, every proposal is judged: the answer is the same
    reply = await ask(nc, "proposals.pending", limit=10, min_seq=last)
    answer_at = datetime.fromisoformat(reply["as_of"])
    assert answered(reply) == expected(contexts, answer_at, 10, pending)
    await wait_kept(services["proposals"])  # the ceilings, computed in the background
    scored = 0
    reply = await ask(nc, "proposals.pending", limit=10)
    answer_at = datetime.fromisoformat(reply["as_of"])
    assert answered(reply) == expected(contexts, answer_at, 10, pending)
    assert scored < total / 3, f"scored {scored} of {total}"

    for as_of, limit, owner in (
        (now, 1, None),
        (now, 25, "sam"),
        (now, 500, None),  # every pending one
        (BASE_TIME + timedelta(days=90), 10, None),  # the past: most relationships moved since
        (BASE_TIME + timedelta(days=500), 5, "li@example.com"),
    ):
        reply = await ask(
            nc, "proposals.pending", limit=limit, owner=owner, as_of=as_of.isoformat()
        )
        assert answered(reply) == expected(contexts, as_of, limit, pending, owner), (as_of, limit)

    reply = await ask(nc, "proposals.pending", status="all", limit=7, as_of=now.isoformat())
    everything = {"drafted", "submitted", "accepted", "declined", "withdrawn"}
    assert answered(reply) == expected(contexts, now, 7, everything)


async def test_equal_readiness_goes_to_the_oldest_even_past_the_first_chunk(
    nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    """Seventy alike relationships whose proposals differ only in age; the oldest come last
    in the ceiling index, so the search must read on while a ceiling equals the list's worst."""
    lives: dict[str, list[dict[str, Any]]] = {}
    touch = {"kind": "meeting", "direction": "mutual", "sentiment": 0.7}
    for n in range(70):
        rel = f"tie-{n:02d}"
        hello = {"owner": "tie", "counterpart": {"name": rel}}
        drafted = {"proposal_id": "p", "title": "Joint work", "goals": ["reach"]}
        lives[rel] = [
            event("connection.made", rel, hello, days=0),
            event("stage.changed", rel, {"to": "awareness"}, days=1),
            event("capacity.noted", rel, {"capacity": "high", "goals": ["reach"]}, days=2),
            event("proposal.drafted", rel, drafted, days=50 - n * 0.5),
            event("interaction.recorded", rel, touch, days=60),  # the latest, alike for all
        ]
    envelopes = [e for life in lives.values() for e in life]
    await publish_all(nc, envelopes[:-1])
    last = await publish(nc, envelopes[-1])
    contexts = {rel: fold_context(*life) for rel, life in lives.items()}
    assert await services["proposals"].projector.wait_applied(last, 30)
    await wait_kept(services["proposals"])  # the ceilings, computed in the background
    as_of = BASE_TIME + timedelta(days=60)  # every ceiling is met: all score alike
    reply = await ask(
        nc, "proposals.pending", owner="tie", limit=10, as_of=as_of.isoformat(), min_seq=last
    )
    want = expected(contexts, as_of, 10, set(PENDING), "tie")
    assert len({score for _, _, score in want}) == 1
    assert answered(reply) == want
    assert [rel for rel, _, _ in want][:2] == ["tie-68", "tie-69"]  # the oldest first


@pytest.mark.parametrize(
    ("owner", "index", "sorted_rows"),
    [
        (None, "proposals_by_ceiling", False),  # read in ceiling order: no sort at all
        ("li@example.com", "proposals_by_owner", False),
        ("maria", "proposals_by_owner", True),  # a range of one owner's rows, sorted
    ],
)
async def test_the_ceiling_order_comes_from_an_index(
    tmp_path: Path, owner: str | None, index: str, sorted_rows: bool
) -> None:
    store = ProposalsStore(tmp_path / "proposals.db")
    await store.open()
    await store.close()
    sql, params = ProposalsStore.ceiling_query(Which(sorted(PENDING), owner=owner), 1.0)
    with sqlite3.connect(tmp_path / "proposals.db") as db:
        plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert any(index in step for step in plan), plan
    assert any("TEMP B-TREE" in step for step in plan) == sorted_rows, plan


async def test_the_rows_without_a_ceiling_come_from_indexes(tmp_path: Path) -> None:
    store = ProposalsStore(tmp_path / "proposals.db")
    await store.open()
    await store.close()
    sql, params = ProposalsStore.find_query(Which(sorted(PENDING)), unbounded_at=1.0)
    with sqlite3.connect(tmp_path / "proposals.db") as db:
        plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    # not every pending row read to find the few without a ceiling
    assert any("proposals_by_ceiling " in f"{step} " for step in plan), plan
    assert any("proposals_by_ceiling_from" in step for step in plan), plan
    assert not any("proposals_by_status" in step for step in plan), plan


async def test_a_store_of_the_older_shape_opens_and_its_rows_are_judged(tmp_path: Path) -> None:
    path = tmp_path / "proposals.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE proposals (relationship_id TEXT NOT NULL, proposal_id TEXT NOT NULL, "
            "status TEXT NOT NULL, owner TEXT, opened_at TEXT NOT NULL, "
            "PRIMARY KEY (relationship_id, proposal_id)) WITHOUT ROWID"
        )
        db.execute("INSERT INTO proposals VALUES ('r', 'p', 'drafted', 'maria', '2026-01-05')")
    store = ProposalsStore(path)
    await store.open()
    try:
        # no ceiling yet: judged at every query, like a relationship with later events
        assert await store.find(Which(["drafted"]), unbounded_at=1e12) == [("r", "p")]
        assert [chunk async for chunk in store.by_ceiling(Which(["drafted"]), 1e12)] == []
    finally:
        await store.close()


async def test_the_upkeep_computes_what_the_projector_left_unknown(tmp_path: Path) -> None:
    rnd = random.Random(2)
    contexts = {f"rel-{n}": fold_context(*partner_life(rnd, f"rel-{n}")) for n in range(40)}
    store = ProposalsStore(tmp_path / "proposals.db")
    await store.open()
    try:
        await store.commit({rel: (None, c) for rel, c in contexts.items()}, 1, [])

        async def kept() -> dict[tuple[str, str], tuple[int | None, float | None]]:
            rows = await store.read_all(
                "SELECT relationship_id, proposal_id, ceiling, ceiling_from FROM proposals"
            )
            return {(rel, pid): (c, since) for rel, pid, c, since in rows}

        assert {value for value in (await kept()).values()} == {(None, None)}
        assert await store.upkeep(0.0)
        want = {
            (rel, pid): (value, start)
            for rel, context in contexts.items()
            for start, ceiling in [ceilings(context)]
            for pid, value in ceiling.items()
        }
        assert await kept() == want
        # one relationship moves: its ceilings are unknown again, the others' stand
        moved = fold_context(
            *partner_life(random.Random(2), "rel-0"),
            event("interaction.recorded", "rel-0", days=300),
        )
        await store.commit({"rel-0": (contexts["rel-0"], moved)}, 2, [])
        now = await kept()
        assert all(now[key] == (None, None) for key in now if key[0] == "rel-0")
        assert all(now[key] == want[key] for key in now if key[0] != "rel-0")
        assert await store.upkeep(0.0)
        start, ceiling = ceilings(moved)
        assert {k: v for k, v in (await kept()).items() if k[0] == "rel-0"} == {
            ("rel-0", pid): (value, start) for pid, value in ceiling.items()
        }
    finally:
        await store.close()
