"""`rapport replay`: the rebuilt store answers exactly like the live one, with no downtime."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events.subjects import DLQ_STREAM
from services.projection import replay as replay_module
from services.projection.projector import Projector
from services.projection.registry import SPECS
from services.projection.replay import ReplayFailed, replay
from services.projection.service import ProjectionService
from services.projection.store_files import (
    ReplayBusy,
    current_store,
    lock_projection,
    lock_replay,
    replay_token,
)
from tests.conftest import wait_for
from tests.publishing import ask, publish_all, workload

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

EVENTS = 3000


async def snapshot(service: ProjectionService[Any], keys: list[str]) -> dict[str, Any]:
    rows = await service.store.load_rows(keys)
    return {"rows": rows, "checkpoint": await service.store.checkpoint()}


async def test_replay_while_running_matches_the_live_store_without_downtime(
    settings: Settings,
    nc: NATS,
    services: dict[str, ProjectionService[Any]],
) -> None:
    envelopes = workload(EVENTS, seed=11)
    keys = sorted({e["subject"] for e in envelopes})
    await publish_all(nc, envelopes)
    for name in SPECS:
        assert await services[name].projector.wait_applied(EVENTS, 30)
    before = {name: await snapshot(services[name], keys) for name in SPECS}

    failures: list[dict[str, Any]] = []
    answered = 0
    done = asyncio.Event()

    async def keep_asking() -> None:
        nonlocal answered
        # a flag, not only a cancel: Python 3.11's wait_for (in nats-py's request) can
        # swallow a cancellation that races with the reply, and the loop would go on
        while not done.is_set():
            for subject in ("stage.get", "health.get", "proposals.pending"):
                reply = await ask(nc, subject, relationship_id=keys[answered % len(keys)])
                if "error" in reply and reply["error"]["code"] != "not_found":
                    failures.append(reply)
                answered += 1

    asker = asyncio.create_task(keep_asking())
    try:
        reports = [await replay(settings, name) for name in SPECS]
    finally:
        done.set()
        await asyncio.wait_for(asker, 30)
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
    asked = {"relationship_id": keys[0], "as_of": "2026-09-01T00:00:00Z"}
    answered = await ask(nc, "health.get", **asked)
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
        again_answered = await ask(nc, "health.get", **asked)
        assert "error" not in again_answered
        assert {**again_answered, "applied_seq": 0} == {**answered, "applied_seq": 0}
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
    services: dict[str, ProjectionService[Any]],
) -> None:
    refused = orjson.loads(await services["stage"].swap(b'{"path": "/etc/passwd", "token": "x"}'))
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


async def test_two_replays_of_one_projection_cannot_run_at_once(
    settings: Settings,
    nc: NATS,
    services: dict[str, ProjectionService[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await publish_all(nc, workload(2000, seed=8))
    assert await services["stage"].projector.wait_applied(2000, 30)
    proceed = asyncio.Event()
    rebuild = replay_module._rebuild

    async def held_until_told(*args: Any) -> Any:
        await proceed.wait()
        return await rebuild(*args)

    monkeypatch.setattr(replay_module, "_rebuild", held_until_told)
    first = asyncio.create_task(replay(settings, "stage"))
    await wait_for(
        lambda: replay_token(settings.data_dir, "stage") is not None, what="the first replay"
    )
    with pytest.raises(ReplayBusy, match=r"a replay of stage is already running .*\(pid \d+"):
        await replay(settings, "stage")
    proceed.set()
    report = await first
    assert report.swapped_live
    # the running service answers from the store the first replay built, and it is whole
    assert services["stage"].store.path.name == report.store.name
    assert current_store(settings.data_dir, "stage").name == report.store.name
    assert await services["stage"].store.checkpoint() == 2000
    second = await replay(settings, "stage")  # once the first is done, the next may run
    assert second.store.name != report.store.name


@pytest.mark.usefixtures("nc")
async def test_a_swap_adopts_only_the_store_the_running_replay_built(
    settings: Settings, services: dict[str, ProjectionService[Any]]
) -> None:
    service = services["stage"]
    data_dir = settings.data_dir.resolve()

    async def refusal(body: dict[str, Any]) -> str:
        reply = orjson.loads(await service.swap(orjson.dumps(body)))
        assert reply["error"]["code"] == "invalid", reply
        return str(reply["error"]["message"])

    in_use = service.store.path.resolve()
    for sneaky in (f"{in_use}-wal", str(data_dir / "stage.lock"), str(in_use)):
        message = await refusal({"path": sneaky, "token": "x"})
        assert "is not a stage store generation" in message or "is the store in use" in message
    # a store file of the right name that no replay built (no replay runs, or another token)
    forged = data_dir / "stage.7.db"
    forged.write_bytes(in_use.read_bytes())
    assert "no replay of stage" in await refusal({"path": str(forged), "token": "x"})
    holder = lock_replay(settings.data_dir, "stage", token="the-real-one")
    try:
        assert "no replay of stage" in await refusal({"path": str(forged), "token": "guess"})
        message = await refusal({"path": str(forged), "token": "the-real-one"})
        assert message == f"path: {forged} was not built by that replay"
    finally:
        holder.close()
    assert service.store.path.resolve() == in_use  # nothing was adopted


async def test_a_rebuild_never_keeps_a_dead_letter_twice(
    settings: Settings, nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    js = nc.jetstream()
    await js.publish("rapport.ev.r.interaction.recorded", b"junk")
    await publish_all(nc, workload(100, seed=9))
    for service in services.values():
        assert await service.projector.wait_applied(101, 30)
    before = (await js.stream_info(DLQ_STREAM)).state.messages
    assert before == 3  # one per projection
    for name in SPECS:
        report = await replay(settings, name)
        assert report.dead_lettered == 1  # counted by the rebuilt store...
    assert (await js.stream_info(DLQ_STREAM)).state.messages == before  # ...kept once
    for service in services.values():
        assert service.status()["dead_lettered"] == 1
