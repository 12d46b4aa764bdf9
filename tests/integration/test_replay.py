"""`rapport replay`: the rebuilt store answers exactly like the live one, with no downtime."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from services.projection_service import ProjectionService
from services.projector import Projector
from services.replay import ReplayFailed, replay
from services.specs import SPECS
from services.store_files import current_store, lock_projection
from tests.publishing import ask, publish_all, workload

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.settings import Settings

EVENTS = 3000


async def snapshot(service: ProjectionService, keys: list[str]) -> dict[str, Any]:
    rows = await service.store.load_rows(keys)
    return {"rows": rows, "checkpoint": await service.store.checkpoint()}


async def test_replay_while_running_matches_the_live_store_without_downtime(
    settings: Settings,
    nc: NATS,
    services: dict[str, ProjectionService],
) -> None:
    envelopes = workload(EVENTS, seed=11)
    keys = sorted({e["subject"] for e in envelopes})
    await publish_all(nc, envelopes)
    for name in SPECS:
        assert await services[name].projector.wait_applied(EVENTS, 30)
    before = {name: await snapshot(services[name], keys) for name in SPECS}

    failures: list[dict[str, Any]] = []
    answered = 0

    async def keep_asking() -> None:
        nonlocal answered
        while True:
            for subject in ("stage.get", "health.get", "proposals.pending"):
                reply = await ask(nc, subject, relationship_id=keys[answered % len(keys)])
                if "error" in reply and reply["error"]["code"] != "not_found":
                    failures.append(reply)
                answered += 1

    asker = asyncio.create_task(keep_asking())
    try:
        reports = [await replay(settings, name) for name in SPECS]
    finally:
        asker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asker
    assert failures == []
    assert answered > 0
    for report in reports:
        assert report.swapped_live
        assert report.events == EVENTS
        service = services[report.projection]
        assert service.store.path.name == report.store.name
        assert current_store(settings.data_dir, report.projection).name == report.store.name
        assert await snapshot(service, keys) == before[report.projection]

    # the adopted store keeps following the log
    more = workload(50, seed=12)
    for envelope in more:
        envelope["id"] = f"after-{envelope['id']}"
    await publish_all(nc, more)
    for name in SPECS:
        assert await services[name].projector.wait_applied(EVENTS + 50, 10)


async def test_replay_with_nothing_running_swaps_the_pointer(settings: Settings, nc: NATS) -> None:
    envelopes = workload(1000, seed=3)
    await publish_all(nc, envelopes)
    live = ProjectionService(settings, SPECS["health"])
    await live.start()
    assert await live.projector.wait_applied(1000, 30)
    keys = sorted({e["subject"] for e in envelopes})
    expected = await live.store.load_rows(keys)
    old_path = live.store.path
    await live.stop()

    report = await replay(settings, "health")
    assert not report.swapped_live
    assert not old_path.exists()  # the old generation is gone
    again = ProjectionService(settings, SPECS["health"])
    await again.start()
    try:
        assert again.store.path.name == report.store.name
        assert await again.store.load_rows(keys) == expected
        reply = await ask(nc, "health.get", relationship_id=keys[0])
        assert "score" in reply
    finally:
        await again.stop()


async def test_replay_refuses_nothing_silently(settings: Settings, nc: NATS) -> None:
    await nc.jetstream().publish("rapport.ev.r.interaction.recorded", b"garbage")
    report = await replay(settings, "stage")
    assert report.dead_lettered == 1
    assert report.events == 1


@pytest.mark.usefixtures("nc")
async def test_unknown_projection_in_the_swap_request_is_refused(
    settings: Settings,
    services: dict[str, ProjectionService],
) -> None:
    refused = orjson.loads(await services["stage"].swap(b'{"path": "/etc/passwd"}'))
    assert refused["error"]["code"] == "invalid"


async def test_a_stalled_rebuild_fails_clearly_and_leaves_the_store_in_use(
    settings: Settings, nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    await publish_all(nc, workload(200, seed=5))

    async def never_starts(self: Projector[Any]) -> None:
        return None

    with monkeypatch.context() as patched:
        patched.setattr(Projector, "start", never_starts)
        with pytest.raises(ReplayFailed, match=r"applied nothing for 0 s \(at seq 0 of 200"):
            await replay(settings, "stage", stall=0.3)
    assert not (settings.data_dir / "stage.1.db").exists()  # the half-built store is gone
    assert not current_store(settings.data_dir, "stage").exists()

    report = await replay(settings, "stage")  # the lock was let go
    assert report.events == 200
    assert report.store.name == "stage.1.db"


async def test_a_swap_nobody_answers_is_reported_and_the_rebuild_removed(
    settings: Settings, nc: NATS
) -> None:
    await publish_all(nc, workload(50, seed=6))
    holder = lock_projection(settings.data_dir, "proposals")  # a service that never answers
    try:
        with pytest.raises(ReplayFailed, match="does not answer on"):
            await replay(settings, "proposals")
    finally:
        holder.close()
    assert not (settings.data_dir / "proposals.1.db").exists()
