"""Validated ingest over NATS (`rapport.ingest`): accepted, rejected, partial, duplicate, races."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events.subjects import EVENTS_STREAM, INGEST_SUBJECT
from services.ingest.service import IngestService
from tests.factories import event, raw

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings


async def ingest(nc: NATS, body: Any) -> dict[str, Any]:
    payload = body if isinstance(body, bytes) else raw(body)
    reply = await nc.request(INGEST_SUBJECT, payload, timeout=5)
    decoded: dict[str, Any] = orjson.loads(reply.data)
    return decoded


async def stored(nc: NATS) -> int:
    return int((await nc.jetstream().stream_info(EVENTS_STREAM)).state.messages)


@pytest.mark.usefixtures("ingest_service")
async def test_one_event_is_stored_with_its_id(nc: NATS) -> None:
    envelope = event("connection.made", "rel-7", event_id="e-1")
    reply = await ingest(nc, envelope)
    assert reply == {"accepted": [{"id": "e-1", "seq": 1}], "rejected": []}
    message = await nc.jetstream().get_msg(EVENTS_STREAM, 1)
    assert message.subject == "rapport.ev.rel-7.connection.made"
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == "e-1"
    assert message.data is not None
    assert orjson.loads(message.data) == envelope


@pytest.mark.usefixtures("ingest_service")
async def test_invalid_event_is_refused_and_not_written(nc: NATS) -> None:
    bad = event("interaction.recorded", data={"kind": "call", "direction": "sideways"})
    reply = await ingest(nc, bad)
    assert reply["accepted"] == []
    [rejected] = reply["rejected"]
    assert rejected["id"] == bad["id"]
    assert rejected["code"] == "invalid"
    assert rejected["error"].startswith("data.direction:")
    assert await stored(nc) == 0


@pytest.mark.usefixtures("ingest_service")
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", "body: not valid JSON"),
        (b"\xff\xfe", "body: not valid UTF-8"),
        (b"42", "must be a JSON object"),
    ],
)
async def test_unreadable_bodies(nc: NATS, body: bytes, expected: str) -> None:
    reply = await ingest(nc, body)
    assert reply["error"]["code"] == "invalid"
    assert expected in reply["error"]["message"]
    assert reply["accepted"] == []


@pytest.mark.usefixtures("ingest_service")
async def test_batch_keeps_good_events_and_names_bad_ones(nc: NATS) -> None:
    first, second = event("connection.made", "rel-1"), event("interaction.recorded", "rel-2")
    batch: list[Any] = [
        first,
        event("interaction.recorded", "rel-1", data={"kind": "call"}),
        "not an object",
        second,
        event("interaction.recorded", "rel.bad"),
    ]
    reply = await ingest(nc, batch)
    assert [a["id"] for a in reply["accepted"]] == [first["id"], second["id"]]
    assert [r["index"] for r in reply["rejected"]] == [1, 2, 4]
    assert reply["rejected"][0]["error"] == "data.direction: required field is missing"
    assert reply["rejected"][1]["id"] is None
    assert reply["rejected"][2]["error"].startswith("subject:")
    assert await stored(nc) == 2


@pytest.mark.usefixtures("ingest_service")
async def test_duplicate_is_flagged_and_stored_once(nc: NATS) -> None:
    envelope = event("interaction.recorded", "rel-1")
    first = await ingest(nc, envelope)
    again = await ingest(nc, envelope)
    assert again["accepted"] == [{**first["accepted"][0], "duplicate": True}]
    assert await stored(nc) == 1


@pytest.mark.usefixtures("ingest_service")
async def test_stage_changes_follow_the_rules(nc: NATS) -> None:
    steps = [
        (event("stage.changed", "r", {"to": "awareness"}), "accepted"),
        (event("stage.changed", "r", {"to": "conversion"}), "rejected"),
        (event("stage.changed", "r", {"to": "conversion", "reason": "fast track"}), "accepted"),
        (event("stage.changed", "r", {"to": "conversion"}), "rejected"),
        (event("stage.changed", "r", {"to": "partnership", "from": "engagement"}), "conflict"),
        (event("stage.changed", "r", {"to": "closed"}), "rejected"),
        (event("stage.changed", "r", {"to": "closed", "reason": "went quiet"}), "accepted"),
        (event("stage.changed", "r", {"to": "engagement"}), "accepted"),
    ]
    for envelope, outcome in steps:
        reply = await ingest(nc, envelope)
        if outcome == "accepted":
            assert reply["accepted"], reply
        else:
            assert reply["rejected"][0]["code"] == outcome, reply
            assert reply["rejected"][0]["error"].startswith("data.to:")
    assert await stored(nc) == 4


@pytest.mark.usefixtures("ingest_service")
async def test_stage_checks_within_one_batch_see_earlier_changes(nc: NATS) -> None:
    batch = [
        event("stage.changed", "r", {"to": "awareness"}),
        event("stage.changed", "r", {"to": "engagement"}),
        event("stage.changed", "r", {"to": "engagement"}),
    ]
    reply = await ingest(nc, batch)
    assert len(reply["accepted"]) == 2
    assert reply["rejected"][0]["index"] == 2
    assert "already at engagement" in reply["rejected"][0]["error"]


@pytest.mark.usefixtures("ingest_service")
async def test_retried_stage_change_is_a_duplicate_not_a_rejection(nc: NATS) -> None:
    change = event("stage.changed", "r", {"to": "awareness"})
    first = await ingest(nc, change)
    retry = await ingest(nc, change)
    assert retry["accepted"] == [{**first["accepted"][0], "duplicate": True}]


async def test_raw_published_rejected_change_does_not_count(
    ingest_service: IngestService, nc: NATS
) -> None:
    # another system publishes a rule-breaking change straight to JetStream
    skip = event("stage.changed", "r", {"to": "partnership"})
    await nc.jetstream().publish("rapport.ev.r.stage.changed", raw(skip))
    reply = await ingest(nc, event("stage.changed", "r", {"to": "awareness", "from": "connection"}))
    assert reply["accepted"], reply


@pytest.mark.usefixtures("services")  # the projections index the ids
async def test_two_racing_writers_cannot_both_move_a_relationship(
    settings: Settings, nc: NATS
) -> None:
    """Both writers read the stage before either appends: one wins, the other gets a conflict."""
    barrier = asyncio.Barrier(2)
    services = [IngestService(settings) for _ in range(2)]
    for service in services:
        await service.start()
    writers = [service._ingestor for service in services]
    for writer in writers:
        assert writer is not None
        read = writer._refresh
        first_read = asyncio.Event()

        async def read_then_wait(
            kind: Any, rel: str, read: Any = read, first_read: asyncio.Event = first_read
        ) -> Any:
            log = await read(kind, rel)
            if not first_read.is_set():  # only the check before appending waits for the other
                first_read.set()
                await barrier.wait()
            return log

        writer._refresh = read_then_wait  # type: ignore[method-assign,assignment]
    try:
        results = await asyncio.gather(
            writers[0].ingest(raw(event("stage.changed", "r", {"to": "awareness"}))),  # type: ignore[union-attr]
            writers[1].ingest(  # type: ignore[union-attr]
                raw(event("stage.changed", "r", {"to": "closed", "reason": "not a fit"}))
            ),
        )
    finally:
        for service in services:
            await service.stop()
    outcomes = sorted("won" if r.accepted else r.rejected[0]["code"] for r in results)
    assert outcomes == ["conflict", "won"]
    loser = next(r for r in results if r.rejected)
    assert "changed stage while this change was checked" in loser.rejected[0]["error"]
    assert await stored(nc) == 1


@pytest.mark.usefixtures("services")  # the projections index the ids
async def test_many_racing_replicas_move_a_relationship_once(settings: Settings, nc: NATS) -> None:
    services = [IngestService(settings) for _ in range(3)]
    for service in services:
        await service.start()
    try:
        changes = [
            event("stage.changed", "r", {"to": "awareness", "from": "connection"})
            for _ in range(12)
        ]
        replies = await asyncio.gather(*(ingest(nc, change) for change in changes))
    finally:
        for service in services:
            await service.stop()
    won = [r for r in replies if r["accepted"]]
    lost = [r["rejected"][0]["code"] for r in replies if r["rejected"]]
    assert len(won) == 1
    assert lost == ["conflict"] * 11
    assert sum(s.requests for s in services) == 12
    assert await stored(nc) == 1


@pytest.mark.usefixtures("services")  # the projections index the ids
async def test_batch_limit_is_configurable(settings: Settings, nc: NATS) -> None:
    service = IngestService(settings.model_copy(update={"max_batch": 2}))
    await service.start()
    try:
        reply = await ingest(nc, [event("interaction.recorded") for _ in range(3)])
    finally:
        await service.stop()
    assert "3 events is more than the limit of 2" in reply["error"]["message"]
    assert await stored(nc) == 0
