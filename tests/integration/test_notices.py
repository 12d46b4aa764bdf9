"""Notices on a real nats-server: each change announced exactly once, whatever happens.

A stage change, a band crossing and a proposal decision each bring one notice to
`RAPPORT_NOTICES`; a redelivery, a kill mid-batch, a restart or `rapport replay` never brings a
second; a touch falls due and is announced within a second with no other traffic. The expected
notices are counted from the events the tests publish, not from the rules that derive them.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events.notices import iso
from events.subjects import NOTICES_FILTER, NOTICES_STREAM
from services.nats.log_reader import DirectReader
from services.projection.registry import SPECS
from services.projection.replay import replay
from services.projection.service import ProjectionService
from services.projection.store_files import current_store
from tests.conftest import wait_for
from tests.factories import event
from tests.publishing import publish, publish_all
from tests.services import applied_seq, start_service

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings
    from services.nats.embedded import EmbeddedNats

NOW = datetime.now(UTC)


async def stored_notices(nc: NATS) -> list[dict[str, Any]]:
    """Every notice in the stream, oldest first, with its sequence."""
    reader = DirectReader(nc, stream=NOTICES_STREAM)
    try:
        return [{"seq": m.seq, **orjson.loads(m.data)} for m in await reader.read(NOTICES_FILTER)]
    finally:
        await reader.close()


async def outboxes_empty(services: dict[str, ProjectionService[Any]]) -> bool:
    """Nothing committed is waiting to be published."""
    for service in services.values():
        if await service.store.unsent_notices(1):
            return False
    return True


async def settled(nc: NATS, services: dict[str, ProjectionService[Any]], last: int) -> None:
    """Every projection applied `last` and published what it brought."""

    async def done() -> bool:
        applied = all(s.projector.applied_seq >= last for s in services.values())
        return applied and await outboxes_empty(services)

    await wait_for(done, within=20, what=f"every projection to apply seq {last} and publish")


def kinds(notices: list[dict[str, Any]]) -> Counter[str]:
    return Counter(n["type"].removeprefix("rapport.notice.") for n in notices)


async def test_each_change_brings_exactly_one_notice(
    nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    long_ago = NOW - timedelta(days=400)
    await publish(nc, event("connection.made", "rel-a", at=long_ago))
    seq = await publish(nc, event("connection.made", "rel-b", at=NOW - timedelta(minutes=5)))
    await settled(nc, services, seq)  # so the meeting below lands in a batch of its own
    met = {"kind": "meeting", "direction": "mutual", "sentiment": 0.6}
    envelopes = [
        # dormant for 400 days, then a meeting now: dormant -> healthy (hand-scored in
        # tests/unit/test_notices.py), one band notice
        event("interaction.recorded", "rel-a", met, at=NOW - timedelta(minutes=1), event_id="m1"),
        # one accepted change, one a raw publish stores although the rules reject it
        event("stage.changed", "rel-b", {"to": "awareness"}, at=NOW, event_id="s1"),
        event("stage.changed", "rel-b", {"to": "partnership"}, at=NOW, event_id="s2"),
        event("proposal.drafted", "rel-b", {"proposal_id": "p1", "title": "T"}, at=NOW),
        event("proposal.submitted", "rel-b", {"proposal_id": "p1"}, at=NOW),
        event("proposal.accepted", "rel-b", {"proposal_id": "p1"}, at=NOW, event_id="d1"),
        # already decided: stays in the log as a rejected transition, announces nothing
        event("proposal.declined", "rel-b", {"proposal_id": "p1"}, at=NOW, event_id="d2"),
    ]
    for envelope in envelopes:
        seq = await publish(nc, envelope)
    await settled(nc, services, seq)
    notices = await stored_notices(nc)
    by_id = {n["id"]: n for n in notices}
    assert len(by_id) == len(notices), "a notice was published twice"
    assert set(by_id) == {
        "stage.changed:s1",
        "stage.changed:s2",
        "health.band.changed:m1",
        "proposal.decided:d1",
    }
    assert by_id["stage.changed:s1"]["data"]["verdict"] == "accepted"
    rejected = by_id["stage.changed:s2"]["data"]
    assert (rejected["verdict"], rejected["flags"]) == (
        "rejected",
        ["skipped:engagement+conversion", "missing-reason"],
    )
    band = by_id["health.band.changed:m1"]
    assert (band["data"]["from"], band["data"]["to"]) == ("dormant", "healthy")
    assert band["subject"] == "rel-a"
    assert by_id["proposal.decided:d1"]["data"]["decision"] == "accepted"
    assert {n["source"] for n in notices} == {
        "rapport/stage",
        "rapport/health",
        "rapport/proposals",
    }

    # a redelivery after a restart announces nothing again
    for service in services.values():
        await service.stop()
        await service.start()
    seq = await publish(nc, event("interaction.recorded", "rel-b", at=NOW, event_id="late"))
    await settled(nc, services, seq)
    again = await stored_notices(nc)
    assert [n["id"] for n in again if n["id"] in by_id] == [n["id"] for n in notices]
    assert Counter(n["id"] for n in again).most_common(1)[0][1] == 1


async def test_notices_carry_none_of_the_free_text_people_typed(
    nc: NATS, services: dict[str, ProjectionService[Any]]
) -> None:
    # every field a person writes in, each marked so that any copy of it can be found
    typed = {
        "name": "Zelda-Quixote-name",
        "organization": "Hyrule-Ltd-org",
        "email": "zelda@private-mail.example",
        "tag": "tag-private",
        "channel": "channel-private",
        "introducer": "introducer-private",
        "purpose": "purpose-private",
        "notes": "notes-private",
        "capacity": "capacity-notes-private",
        "goal": "goal-private",
        "title": "title-private",
        "ask": "ask-private",
        "closing": "closing-reason-private",
        "reopening": "reopening-reason-private",
        "decision": "decision-reason-private",
    }
    counterpart = {
        "name": typed["name"],
        "organization": typed["organization"],
        "email": typed["email"],
        "tags": [typed["tag"]],
    }
    opened = {
        "owner": "maria@example.com",
        "counterpart": counterpart,
        "channel": typed["channel"],
        "introduced_by": typed["introducer"],
        "purpose": typed["purpose"],
    }
    met = {"kind": "meeting", "direction": "mutual", "sentiment": 0.7, "notes": typed["notes"]}
    capacity = {"capacity": "high", "goals": [typed["goal"]], "notes": typed["capacity"]}
    drafted = {"proposal_id": "p", "title": typed["title"], "ask": typed["ask"]}
    envelopes = [
        event("connection.made", "rel-p", opened, at=NOW - timedelta(days=400)),
        event("stage.changed", "rel-p", {"to": "closed", "reason": typed["closing"]}, at=NOW),
        event("stage.changed", "rel-p", {"to": "awareness", "reason": typed["reopening"]}, at=NOW),
        event("interaction.recorded", "rel-p", met, at=NOW),
        event("capacity.noted", "rel-p", capacity, at=NOW),
        event("proposal.drafted", "rel-p", drafted, at=NOW),
        event(
            "proposal.declined", "rel-p", {"proposal_id": "p", "reason": typed["decision"]}, at=NOW
        ),
    ]
    # A band is announced when it changes between batches, and how events fall into batches
    # is the projector's affair: the handshake of long ago, then the meeting that lifts the
    # band, each applied alone, then the rest.
    opened, met_now = envelopes[0], envelopes[3]
    await settled(nc, services, await publish(nc, opened))
    await settled(nc, services, await publish(nc, met_now))
    for envelope in envelopes[1:3] + envelopes[4:]:
        seq = await publish(nc, envelope)
    await settled(nc, services, seq)
    notices = await stored_notices(nc)
    # each kind an event can bring is here (a touch falls due only with time)
    assert set(kinds(notices)) == {"stage.changed", "health.band.changed", "proposal.decided"}
    stored = orjson.dumps(notices).decode()
    leaked = sorted(text for text in typed.values() if text in stored)
    assert leaked == [], f"a notice carries what a person typed: {leaked}"
    # ids, stages, verdicts, bands and the owner are what a notice says
    assert {n["data"]["owner"] for n in notices} == {"maria@example.com"}


async def test_a_rebuild_announces_nothing_and_the_new_store_goes_on(
    nc: NATS, services: dict[str, ProjectionService[Any]], settings: Settings
) -> None:
    seq = 0
    for n in range(3):
        seq = await publish(nc, event("connection.made", f"rel-{n}", at=NOW))
        seq = await publish(
            nc, event("stage.changed", f"rel-{n}", {"to": "awareness"}, at=NOW, event_id=f"a{n}")
        )
    await settled(nc, services, seq)
    before = await stored_notices(nc)
    assert kinds(before)["stage.changed"] == 3

    report = await replay(settings, "stage")  # the running service adopts the rebuilt store
    assert report.swapped_live
    seq = await publish(
        nc, event("stage.changed", "rel-0", {"to": "engagement"}, at=NOW, event_id="after")
    )
    await settled(nc, services, seq)
    after = await stored_notices(nc)
    assert [n["id"] for n in after] == [n["id"] for n in before] + ["stage.changed:after"]


async def test_a_store_starting_on_a_history_announces_none_of_it(
    nc: NATS, settings: Settings
) -> None:
    seq = 0
    for n in range(5):
        seq = await publish(
            nc, event("stage.changed", f"rel-{n}", {"to": "awareness"}, at=NOW, event_id=f"h{n}")
        )
    service = ProjectionService(settings, SPECS["stage"])
    await service.start()
    try:
        await wait_for(lambda: service.projector.applied_seq >= seq, what="the history applied")
        seq = await publish(
            nc, event("stage.changed", "rel-0", {"to": "engagement"}, at=NOW, event_id="new")
        )
        await wait_for(lambda: service.projector.applied_seq >= seq, what="the new change")
        await wait_for(lambda: outboxes_empty({"stage": service}), what="it to publish")
    finally:
        await service.stop()
    assert [n["id"] for n in await stored_notices(nc)] == ["stage.changed:new"]


async def test_what_a_crash_left_unsent_is_sent_once_on_start(nc: NATS, settings: Settings) -> None:
    service = ProjectionService(settings, SPECS["stage"])
    await service.start()
    seq = await publish(
        nc, event("stage.changed", "rel-1", {"to": "awareness"}, at=NOW, event_id="c1")
    )
    await wait_for(lambda: service.projector.applied_seq >= seq, what="the change applied")
    await wait_for(lambda: outboxes_empty({"stage": service}), what="the first notice sent")
    # a crash between the publish and forgetting it: the row is back in the outbox (and was
    # published already), plus one that was never published at all
    store = service.store
    await service.stop()
    await store.open()
    notice = await stored_notices(nc)
    await store.add_notices(
        [
            ("stage.changed:c1", "rapport.notice.rel-1.stage.changed", orjson.dumps(notice[0])),
            ("stage.changed:c2", "rapport.notice.rel-1.stage.changed", b'{"id":"c2"}'),
        ],
        {},
    )
    await store.close()
    service = ProjectionService(settings, SPECS["stage"])
    await service.start()
    try:
        await wait_for(lambda: outboxes_empty({"stage": service}), what="the outbox sent again")
        assert service.projector.applied_seq == seq
    finally:
        await service.stop()
    notices = await stored_notices(nc)
    assert [n["id"] for n in notices] == ["stage.changed:c1", "c2"]


@pytest.fixture
def due_soon(settings: Settings) -> Settings:
    """A scheduler that looks five times a second (the due instant itself wakes it anyway)."""
    return settings.model_copy(update={"notice_tick": 0.2})


async def test_a_touch_is_announced_within_a_second_of_falling_due(
    nc: NATS, due_soon: Settings
) -> None:
    health = ProjectionService(due_soon, SPECS["health"])
    await health.start()
    try:
        await asyncio.sleep(0)  # let the scheduler set its watermark at "now"
        # a new connection is due one week after the handshake (connection's cadence): make
        # two handshakes one week minus three seconds ago; close one of them
        due = float(int(time.time()) + 3)
        opened = datetime.fromtimestamp(due, UTC) - timedelta(days=7)
        await publish(nc, event("connection.made", "rel-due", at=opened))
        await publish(nc, event("connection.made", "rel-closed", at=opened))
        await publish(
            nc,
            event("stage.changed", "rel-closed", {"to": "closed", "reason": "moved"}, at=opened),
        )
        arrived: list[float] = []

        async def announced() -> bool:
            found = [n for n in await stored_notices(nc) if n["type"] == "rapport.notice.touch.due"]
            if found and not arrived:
                arrived.append(time.time())
            return bool(found)

        await wait_for(announced, within=10, what="the touch.due notice")
        assert due <= arrived[0] < due + 1.0, f"announced {arrived[0] - due:.2f} s after due"
        [notice] = [n for n in await stored_notices(nc) if n["type"].endswith("touch.due")]
        assert notice["subject"] == "rel-due"  # the closed one is never due
        assert notice["data"]["due"] == iso(due)
        assert notice["id"] == f"touch.due:rel-due@{iso(due)}"
    finally:
        await health.stop()


# -- kill -9 mid-batch --------------------------------------------------------------------------

RELATIONSHIPS = 600


def life(rel: str) -> list[dict[str, Any]]:
    """A relationship with one stage change and one accepted proposal (5 events)."""
    return [
        event("connection.made", rel, at=NOW),
        event("stage.changed", rel, {"to": "awareness"}, at=NOW, event_id=f"{rel}-stage"),
        event("proposal.drafted", rel, {"proposal_id": "p", "title": "T"}, at=NOW),
        event("proposal.submitted", rel, {"proposal_id": "p"}, at=NOW),
        event("proposal.accepted", rel, {"proposal_id": "p"}, at=NOW, event_id=f"{rel}-yes"),
    ]


@pytest.mark.parametrize("name", ["stage", "proposals"])
async def test_a_kill_mid_batch_announces_each_change_once(
    name: str, nats_server: EmbeddedNats, nc: NATS, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    envelopes = [e for n in range(RELATIONSHIPS) for e in life(f"r{n}")]
    service = start_service(name, nats_server.url, data_dir, 100)
    try:
        deadline = time.monotonic() + 30
        while await applied_seq(nc, name) < 0:  # up, and live before the first event
            assert time.monotonic() < deadline, f"{name} did not start"
            await asyncio.sleep(0.05)
        publishing = asyncio.create_task(publish_all(nc, envelopes))
        deadline = time.monotonic() + 60
        while await applied_seq(nc, name) < len(envelopes) // 3:
            assert time.monotonic() < deadline, f"{name} applied too little"
            await asyncio.sleep(0.01)
        service.send_signal(signal.SIGKILL)
        service.wait()
        await publishing
        killed_at = await checkpoint_on_disk(data_dir, name)
        assert killed_at < len(envelopes), "the kill must land mid-stream"
        service = start_service(name, nats_server.url, data_dir, 100)
        deadline = time.monotonic() + 60
        while await applied_seq(nc, name) < len(envelopes):
            assert time.monotonic() < deadline, f"{name} did not catch up"
            await asyncio.sleep(0.05)
        expected = {
            "stage": {f"stage.changed:r{n}-stage" for n in range(RELATIONSHIPS)},
            "proposals": {f"proposal.decided:r{n}-yes" for n in range(RELATIONSHIPS)},
        }[name]

        async def all_published() -> bool:
            return len(await stored_notices(nc)) >= len(expected)

        await wait_for(all_published, within=30, what="every notice published")
    finally:
        service.terminate()
        service.wait(30)
    ids = [n["id"] for n in await stored_notices(nc)]
    assert Counter(ids).most_common(1)[0][1] == 1, "a notice was published twice"
    assert set(ids) == expected


async def checkpoint_on_disk(data_dir: Path, name: str) -> int:
    store = SPECS[name].store(current_store(data_dir, name))
    await store.open()
    try:
        return int(await store.checkpoint())
    finally:
        await store.close()
