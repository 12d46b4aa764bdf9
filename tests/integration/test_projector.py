"""The projector runner against a real nats-server and real SQLite files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events.subjects import DLQ_STREAM
from projections.health.fold import apply as health_apply
from projections.health.store import HealthStore
from projections.proposals.fold import apply as proposals_apply
from projections.proposals.store import ProposalsStore
from projections.stage.fold import apply as stage_apply
from projections.stage.store import StageStore
from services.projector import Projector
from tests.factories import event
from tests.publishing import publish

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS


@pytest.fixture
async def stage_store(tmp_path: Path) -> Any:
    store = StageStore(tmp_path / "stage.db")
    await store.open()
    yield store
    await store.close()


async def test_events_published_by_other_systems_are_applied(
    nc: NATS, stage_store: StageStore
) -> None:
    await publish(nc, event("connection.made", "a"))
    await publish(nc, event("stage.changed", "a", {"to": "awareness"}))
    last = await publish(nc, event("interaction.recorded", "b"))
    projector = Projector(nc, "stage", stage_apply, stage_store, batch_size=2)
    await projector.start()
    try:
        assert await projector.wait_applied(last, 10)
    finally:
        await projector.stop()
    a = await stage_store.get("a")
    b = await stage_store.get("b")
    assert a is not None and a.stage == "awareness"  # noqa: PT018
    assert b is not None and b.implicit  # noqa: PT018
    assert await stage_store.checkpoint() == last


async def test_poison_events_are_dead_lettered_and_the_rest_applied(
    nc: NATS, stage_store: StageStore
) -> None:
    js = nc.jetstream()
    await publish(nc, event("connection.made", "a"))
    garbage = await js.publish("rapport.ev.a.interaction.recorded", b"\xffnot json")
    misfiled = event("stage.changed", "b", {"to": "awareness"})
    wrong = await js.publish("rapport.ev.a.stage.changed", orjson.dumps(misfiled))
    last = await publish(nc, event("stage.changed", "a", {"to": "awareness"}))
    projector = Projector(nc, "stage", stage_apply, stage_store)
    await projector.start()
    try:
        assert await projector.wait_applied(last, 10)
    finally:
        await projector.stop()
    view = await stage_store.get("a")
    assert view is not None
    assert view.stage == "awareness"
    assert await stage_store.get("b") is None
    assert projector.applier.stats.dead_lettered == 2

    first = await js.get_msg(DLQ_STREAM, 1)
    second = await js.get_msg(DLQ_STREAM, 2)
    assert first.subject == "rapport.dlq.stage"
    assert first.data == b"\xffnot json"  # the original bytes
    assert first.headers is not None
    assert first.headers["Rapport-Seq"] == str(garbage.seq)
    assert first.headers["Rapport-Projection"] == "stage"
    assert first.headers["Rapport-Reason"].startswith("invalid event: body: not valid UTF-8")
    assert second.headers is not None
    assert second.headers["Rapport-Seq"] == str(wrong.seq)
    assert "subject mismatch" in second.headers["Rapport-Reason"]


async def test_fold_errors_are_dead_lettered_with_the_reason(nc: NATS, tmp_path: Path) -> None:
    store = ProposalsStore(tmp_path / "proposals.db")
    await store.open()
    await publish(nc, event("proposal.accepted", "r", {"proposal_id": "ghost"}))
    last = await publish(nc, event("proposal.drafted", "r", {"proposal_id": "p", "title": "T"}))
    projector = Projector(nc, "proposals", proposals_apply, store)
    await projector.start()
    try:
        assert await projector.wait_applied(last, 10)
    finally:
        await projector.stop()
    dead = await nc.jetstream().get_msg(DLQ_STREAM, 1)
    assert dead.headers is not None
    assert dead.headers["Rapport-Reason"] == (
        "proposals could not apply it: proposal ghost is unknown, so it cannot be accepted"
    )
    assert await store.find(["drafted"]) == [("r", "p")]
    await store.close()


async def test_restart_resumes_after_the_checkpoint(nc: NATS, tmp_path: Path) -> None:
    path = tmp_path / "health.db"
    first_store = HealthStore(path)
    await first_store.open()
    seqs = [await publish(nc, event("interaction.recorded", "r", days=d)) for d in range(5)]
    projector = Projector(nc, "health", health_apply, first_store)
    await projector.start()
    assert await projector.wait_applied(seqs[-1], 10)
    await projector.stop()
    await first_store.close()

    more = [await publish(nc, event("interaction.recorded", "r", days=d)) for d in range(5, 8)]
    store = HealthStore(path)
    await store.open()
    again = Projector(nc, "health", health_apply, store)
    await again.start()
    try:
        assert await again.wait_applied(more[-1], 10)
    finally:
        await again.stop()
    assert again.applier.stats.applied == 3  # only what came after the checkpoint
    state = await store.get("r")
    assert state is not None
    assert len(state.touches) == 8
    await store.close()


async def test_a_duplicate_beyond_the_dedupe_window_takes_effect_once(
    nc: NATS, tmp_path: Path
) -> None:
    store = HealthStore(tmp_path / "health.db")
    await store.open()
    touch = event("interaction.recorded", "r")
    await publish(nc, touch)
    # the same event id again, as if resent after the duplicate window: JetStream stores it
    last = await publish(nc, touch, msg_id="resent-later")
    projector = Projector(nc, "health", health_apply, store)
    await projector.start()
    try:
        assert await projector.wait_applied(last, 10)
    finally:
        await projector.stop()
    state = await store.get("r")
    assert state is not None
    assert len(state.touches) == 1
    assert projector.applier.stats.skipped_duplicate == 1
    await store.close()


async def test_read_your_writes_waits_for_the_sequence(nc: NATS, stage_store: StageStore) -> None:
    projector = Projector(nc, "stage", stage_apply, stage_store)
    await projector.start()
    try:
        assert not await projector.wait_applied(1, 0.2)  # nothing published yet
        seq = await publish(nc, event("connection.made", "late"))
        assert await projector.wait_applied(seq, 5)
        assert await stage_store.get("late") is not None
    finally:
        await projector.stop()
