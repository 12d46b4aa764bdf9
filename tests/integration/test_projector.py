"""The projector runner against a real nats-server and real SQLite files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events import InteractionRecorded
from events.subjects import DLQ_STREAM
from projections.base import FoldError
from projections.health.fold import apply as health_apply
from projections.health.store import HealthStore
from projections.proposals.fold import apply as proposals_apply
from projections.proposals.store import ProposalsStore, Which
from projections.stage.fold import apply as stage_apply
from projections.stage.store import StageStore
from services.projection.projector import Projector
from tests.conftest import wait_for
from tests.factories import event
from tests.publishing import publish

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from events import Event
    from projections.stage.fold import StageView


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
    assert first.subject == f"rapport.dlq.stage.{garbage.seq}"  # one subject per dead letter
    assert first.data == b"\xffnot json"  # the original bytes
    assert first.headers is not None
    assert first.headers["Rapport-Seq"] == str(garbage.seq)
    assert first.headers["Rapport-Projection"] == "stage"
    assert first.headers["Rapport-Reason"].startswith("invalid event: body: not valid UTF-8")
    assert second.headers is not None
    assert second.headers["Rapport-Seq"] == str(wrong.seq)
    assert "subject mismatch" in second.headers["Rapport-Reason"]


async def test_lifecycle_breaking_events_are_kept_not_dead_lettered(
    nc: NATS, tmp_path: Path
) -> None:
    """Contract v1.1: a raw publish that breaks the lifecycle is a rejected transition."""
    store = ProposalsStore(tmp_path / "proposals.db")
    await store.open()
    ghost = await publish(nc, event("proposal.accepted", "r", {"proposal_id": "ghost"}))
    last = await publish(nc, event("proposal.drafted", "r", {"proposal_id": "p", "title": "T"}))
    projector = Projector(nc, "proposals", proposals_apply, store)
    await projector.start()
    try:
        assert await projector.wait_applied(last, 10)
    finally:
        await projector.stop()
    assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0
    assert await store.find(Which(["drafted"])) == [("r", "p")]
    context = (await store.load(["r"]))["r"]
    (rejection,) = context.rejected("ghost")
    assert (rejection.seq, rejection.why) == (
        ghost,
        "proposal ghost is unknown, so it cannot be accepted",
    )
    await store.close()


def refuse_meetings(view: StageView | None, event: Event, seq: int = 0) -> StageView:
    """A fold that refuses one kind of event with its own error type."""
    if isinstance(event, InteractionRecorded) and event.data.kind == "meeting":
        raise FoldError("meetings are not taken here")
    return stage_apply(view, event, seq)


def broken_on_calls(view: StageView | None, event: Event, seq: int = 0) -> StageView:
    """A fold with a bug: it raises something other than FoldError on calls."""
    if isinstance(event, InteractionRecorded) and event.data.kind == "call":
        raise ZeroDivisionError("a bug")
    return stage_apply(view, event, seq)


async def test_fold_errors_are_dead_lettered_with_the_reason(
    nc: NATS, stage_store: StageStore
) -> None:
    refused = await publish(nc, event("interaction.recorded", "r"))  # a meeting
    last = await publish(nc, event("connection.made", "r"))
    projector = Projector(nc, "stage", refuse_meetings, stage_store)
    await projector.start()
    try:
        assert await projector.wait_applied(last, 10)
    finally:
        await projector.stop()
    dead = await nc.jetstream().get_msg(DLQ_STREAM, 1)
    assert dead.headers is not None
    assert dead.headers["Rapport-Seq"] == str(refused)
    assert dead.headers["Rapport-Reason"] == "stage could not apply it: meetings are not taken here"
    assert await stage_store.dead_lettered() == 1


async def test_a_bug_in_a_fold_stops_the_projection_before_the_event(
    nc: NATS, stage_store: StageStore
) -> None:
    """Another exception than FoldError is a bug: no dead letter, no checkpoint past it."""
    before = await publish(nc, event("connection.made", "r"))
    await publish(nc, event("interaction.recorded", "r", {"kind": "call", "direction": "mutual"}))
    await publish(nc, event("stage.changed", "r", {"to": "awareness"}))
    projector = Projector(nc, "stage", broken_on_calls, stage_store, batch_size=1)
    await projector.start()
    try:
        await wait_for(lambda: projector.failure is not None, what="the projection to stop")
        assert projector.applied_seq == before
        assert await stage_store.checkpoint() == before
        assert projector.failure is not None
        assert "seq 2" in projector.failure
        assert "ZeroDivisionError: a bug" in projector.failure
        assert projector.status()["failure"] == projector.failure
    finally:
        await projector.stop()
    assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0
    view = await stage_store.get("r")
    assert view is not None
    assert view.stage == "connection"


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
