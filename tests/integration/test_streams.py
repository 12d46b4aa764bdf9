"""RAPPORT_EVENTS and RAPPORT_DLQ exactly as the contract says, created idempotently."""

from __future__ import annotations

from typing import TYPE_CHECKING

import nats
import pytest
from nats.js.api import StorageType
from nats.js.errors import APIError

from events.subjects import DLQ_STREAM, EVENTS_STREAM, NOTICES_STREAM
from services.nats.streams import StreamConflict, ensure_streams, events_stream

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.nats.embedded import EmbeddedNats


async def test_events_stream_is_the_system_of_record(nc: NATS) -> None:
    info = await nc.jetstream().stream_info(EVENTS_STREAM)
    config = info.config
    assert config.subjects == ["rapport.ev.>"]
    assert config.storage == StorageType.FILE
    assert not config.max_age  # kept forever
    assert config.max_msgs == -1
    assert config.max_bytes == -1
    assert config.deny_delete
    assert config.deny_purge
    assert config.duplicate_window == 120


async def test_dlq_stream(nc: NATS) -> None:
    config = (await nc.jetstream().stream_info(DLQ_STREAM)).config
    assert config.subjects == ["rapport.dlq.>"]
    assert config.storage == StorageType.FILE
    assert not config.max_age


async def test_delete_and_purge_are_denied(nc: NATS) -> None:
    js = nc.jetstream()
    ack = await js.publish("rapport.ev.rel-1.interaction.recorded", b"{}")
    with pytest.raises(APIError):
        await js.purge_stream(EVENTS_STREAM)
    with pytest.raises(APIError):
        await js.delete_msg(EVENTS_STREAM, ack.seq)
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 1


async def test_creating_twice_changes_nothing(nc: NATS) -> None:
    reports = await ensure_streams(nc.jetstream())
    assert [(r.name, r.created) for r in reports] == [
        (EVENTS_STREAM, False),
        (DLQ_STREAM, False),
        (NOTICES_STREAM, False),
    ]


async def test_first_creation_reports_created(nats_server: EmbeddedNats) -> None:
    client = await nats.connect(nats_server.url)
    try:
        reports = await ensure_streams(client.jetstream(), duplicate_window=30)
        assert all(r.created for r in reports)
        info = await client.jetstream().stream_info(EVENTS_STREAM)
        assert info.config.duplicate_window == 30
    finally:
        await client.close()


async def test_conflicting_stream_is_reported_not_changed(nats_server: EmbeddedNats) -> None:
    client = await nats.connect(nats_server.url)
    try:
        js = client.jetstream()
        odd = events_stream()
        odd.deny_purge = False
        odd.max_age = 3600
        await js.add_stream(odd)
        with pytest.raises(StreamConflict) as raised:
            await ensure_streams(js)
        message = str(raised.value)
        assert "deny_purge" in message
        assert "max_age" in message
        assert "never changes an existing stream" in message
        still = (await js.stream_info(EVENTS_STREAM)).config
        assert still.max_age == 3600
        assert not still.deny_purge
    finally:
        await client.close()
