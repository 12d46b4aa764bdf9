"""The `rapport bench` baselines against a real nats-server holding a small, mixed stream."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import orjson
import pytest

from benchmarks.baseline_eventsourcing import read_health_states, read_stage_views
from benchmarks.baseline_faststream import read_stage_views as read_faststream_views
from benchmarks.baselines import (
    eventsourcing_peer,
    faststream_default,
    raw_fetch_ack,
    raw_ordered,
)
from benchmarks.result import NotLoopback
from events import parse_event
from events.subjects import DLQ_STREAM, EVENTS_STREAM, NOTICES_STREAM
from projections.health.fold import apply as health_apply
from projections.stage.fold import apply as stage_apply
from tests.factories import BASE_TIME, SAMPLE_DATA
from tests.publishing import publish_all

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS
    from nats.js.api import StreamConfig

    from projections.health.fold import HealthState
    from projections.stage.fold import StageView
    from services.nats.embedded import EmbeddedNats

EVENTS = 2_000
RELATIONSHIPS = 60
STAGES = ["awareness", "engagement", "conversion", "partnership", "closed", "connection"]


def workload(count: int, relationships: int, seed: int) -> list[dict[str, Any]]:
    """Contract-true envelopes over many relationships, some stage changes rejected."""
    rng = random.Random(seed)
    rels = [f"rel-{n:04d}" for n in range(relationships)]
    opened: set[str] = set()
    envelopes = []
    for n in range(count):
        rel = rng.choice(rels)
        roll = rng.random()
        if rel not in opened and roll < 0.9:  # a tenth open implicitly
            kind, data = "rapport.connection.made", SAMPLE_DATA["rapport.connection.made"]
        elif roll < 0.55:
            kind = "rapport.interaction.recorded"
            data = {
                "kind": rng.choice(["meeting", "call", "email", "message", "social"]),
                "direction": rng.choice(["inbound", "outbound", "mutual"]),
                "sentiment": round(rng.uniform(-1, 1), 2),
            }
        elif roll < 0.8:
            kind = "rapport.stage.changed"
            data = {"to": rng.choice(STAGES)}
            if rng.random() < 0.5:
                data["reason"] = "agreed in the last meeting"
        elif roll < 0.88:
            kind, data = "rapport.purpose.set", {"purpose": f"purpose {n}"}
        elif roll < 0.94:
            kind, data = "rapport.capacity.noted", SAMPLE_DATA["rapport.capacity.noted"]
        else:
            kind, data = "rapport.proposal.drafted", {"proposal_id": f"p-{n}", "title": "Idea"}
        opened.add(rel)
        moment = BASE_TIME + timedelta(minutes=37 * n + rng.randrange(30))
        envelopes.append(
            {
                "specversion": "1.0",
                "id": f"ev-{seed}-{n}",
                "source": "bench-test",
                "type": kind,
                "subject": rel,
                "time": moment.isoformat(),
                "data": data,
            }
        )
    return envelopes


async def seed_stream(nc: NATS, envelopes: list[dict[str, Any]]) -> None:
    """Publish as another system would: JetStream, Nats-Msg-Id = event id."""
    await publish_all(nc, envelopes)
    info = await nc.jetstream().stream_info(EVENTS_STREAM)
    assert info.state.messages == len(envelopes)


def direct_folds(
    envelopes: list[dict[str, Any]],
) -> tuple[dict[str, StageView], dict[str, HealthState]]:
    """The stage and health states a correct projector must reach, folded in stream order."""
    stages: dict[str, StageView] = {}
    health: dict[str, HealthState] = {}
    for envelope in envelopes:
        event = parse_event(orjson.dumps(envelope))
        stages[event.subject] = stage_apply(stages.get(event.subject), event)
        health[event.subject] = health_apply(health.get(event.subject), event)
    return stages, health


@pytest.fixture
async def seeded(nc: NATS) -> tuple[list[dict[str, Any]], StreamConfig]:
    """RAPPORT_EVENTS with the workload; yields it and the stream's config before any run."""
    envelopes = workload(EVENTS, RELATIONSHIPS, seed=7)
    await seed_stream(nc, envelopes)
    config = (await nc.jetstream().stream_info(EVENTS_STREAM)).config
    return envelopes, config


async def assert_stream_untouched(nc: NATS, before: StreamConfig) -> None:
    js = nc.jetstream()
    info = await js.stream_info(EVENTS_STREAM)
    assert info.config == before
    assert info.state.messages == EVENTS
    assert {stream.config.name for stream in await js.streams_info()} == {
        EVENTS_STREAM,
        DLQ_STREAM,
        NOTICES_STREAM,
    }


async def test_raw_fetch_ack_acknowledges_every_event(
    nats_server: EmbeddedNats, nc: NATS, seeded: tuple[list[dict[str, Any]], StreamConfig]
) -> None:
    result = await raw_fetch_ack(nats_server.url, EVENTS, batch=300)
    assert result.events == EVENTS
    assert result.details["ack_floor_stream_seq"] == EVENTS
    assert result.details["num_ack_pending"] == 0
    assert result.eps > 0
    await assert_stream_untouched(nc, seeded[1])
    assert await nc.jetstream().consumers_info(EVENTS_STREAM) == []


async def test_raw_ordered_reads_every_event(
    nats_server: EmbeddedNats, nc: NATS, seeded: tuple[list[dict[str, Any]], StreamConfig]
) -> None:
    result = await raw_ordered(nats_server.url, EVENTS)
    assert result.events == EVENTS
    assert result.details["last_stream_seq"] == EVENTS
    await assert_stream_untouched(nc, seeded[1])


@pytest.mark.parametrize("consumer", ["pull", "push"])
async def test_faststream_default_folds_each_event_into_its_own_view(
    nats_server: EmbeddedNats,
    nc: NATS,
    seeded: tuple[list[dict[str, Any]], StreamConfig],
    tmp_path: Path,
    consumer: Literal["pull", "push"],
) -> None:
    envelopes, config = seeded
    result = await faststream_default(
        nats_server.url, EVENTS, tmp_path / "faststream", consumer=consumer
    )
    assert result.events == EVENTS
    stages, _ = direct_folds(envelopes)
    assert read_faststream_views(tmp_path / "faststream") == stages
    await assert_stream_untouched(nc, config)
    assert await nc.jetstream().consumers_info(EVENTS_STREAM) == []


async def test_eventsourcing_peer_maintains_both_views(
    nats_server: EmbeddedNats,
    nc: NATS,
    seeded: tuple[list[dict[str, Any]], StreamConfig],
    tmp_path: Path,
) -> None:
    envelopes, config = seeded
    result = await eventsourcing_peer(nats_server.url, EVENTS, tmp_path / "es")
    assert result.events == EVENTS
    assert result.details["recorded"] == EVENTS
    stages, health = direct_folds(envelopes)
    assert read_stage_views(tmp_path / "es") == stages
    assert read_health_states(tmp_path / "es") == health
    await assert_stream_untouched(nc, config)


async def test_the_workload_exercises_rejections_and_implicit_opens(
    seeded: tuple[list[dict[str, Any]], StreamConfig],
) -> None:
    stages, _ = direct_folds(seeded[0])
    assert len(stages) == RELATIONSHIPS
    assert any(view.rejected_changes for view in stages.values())
    assert any(view.implicit for view in stages.values())
    assert len({view.stage for view in stages.values()}) >= 4


async def test_baselines_refuse_a_server_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(NotLoopback):
        await raw_fetch_ack("nats://10.0.0.1:4222", 1)
    with pytest.raises(NotLoopback):
        await eventsourcing_peer("nats://example.com:4222", 1, tmp_path)


async def test_baselines_refuse_a_workdir_from_an_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "es-stage.db").touch()
    (tmp_path / "faststream-stage.db").touch()
    with pytest.raises(FileExistsError):
        await eventsourcing_peer("nats://127.0.0.1:1", 1, tmp_path)
    with pytest.raises(FileExistsError):
        await faststream_default("nats://127.0.0.1:1", 1, tmp_path)
