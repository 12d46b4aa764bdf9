"""Faults: kill -9 the NATS server under load, and a node of a 3-node cluster during ingest.

Every scenario ends with the two checks that matter for a system of record: zero acknowledged
events lost, and every projection equal to a clean rebuild from the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from nats.errors import TimeoutError as NatsTimeout

from events.subjects import EVENTS_STREAM, event_subject
from services.config.settings import Settings
from services.ingest.service import IngestService
from services.nats.connection import connect, patiently
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.streams import ensure_streams
from services.projection.registry import SPECS
from services.projection.replay import replay
from services.projection.service import ProjectionService
from tests.cluster import cluster_with_streams
from tests.publishing import ingest_retrying, workload
from tests.rebuild import assert_equals_a_clean_rebuild, read_log

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS


async def publish_retrying(
    nc: NATS, envelopes: list[dict[str, Any]], deadline: float
) -> dict[str, int]:
    """Publish as another system would, retrying each event with the same id until acked."""
    js = nc.jetstream(timeout=2)
    acked: dict[str, int] = {}
    for envelope in envelopes:
        while True:
            try:
                ack = await js.publish(
                    event_subject(envelope["subject"], envelope["type"]),
                    orjson.dumps(envelope),
                    headers={"Nats-Msg-Id": envelope["id"]},
                    timeout=2,
                )
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"could not publish {envelope['id']} before the deadline")
                await asyncio.sleep(0.1)
                continue
            acked[envelope["id"]] = ack.seq
            break
    return acked


async def verify(
    nc: NATS,
    services: dict[str, ProjectionService[Any]],
    acked: dict[str, int],
    oracle_dir: Path,
) -> None:
    """Zero acknowledged events lost; every projection equal to a clean rebuild."""
    info = await nc.jetstream(timeout=10).stream_info(EVENTS_STREAM)
    log = await read_log(nc)
    stored = [orjson.loads(data) for _, _, data in log]
    stored_ids = [envelope["id"] for envelope in stored]
    assert len(stored_ids) == len(set(stored_ids)), "a retried event was stored twice"
    assert set(acked) <= set(stored_ids), "an acknowledged event is missing"
    assert info.state.messages == len(acked)
    keys = sorted({envelope["subject"] for envelope in stored})
    for name, service in services.items():
        assert await service.projector.wait_applied(info.state.last_seq, 60), name
        await assert_equals_a_clean_rebuild(
            service.settings, name, service.store, keys, oracle_dir / name
        )


async def start_services(settings: Settings) -> dict[str, ProjectionService[Any]]:
    services = {name: ProjectionService(settings, spec) for name, spec in SPECS.items()}
    for service in services.values():
        await service.start()
    return services


async def stop_services(services: dict[str, ProjectionService[Any]]) -> None:
    for service in services.values():
        await service.stop()


async def kill_nats_under_load(tmp_path: Path, events: int, kills: int) -> None:
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    await server.start()
    settings = Settings(nats_url=server.url, data_dir=tmp_path / "data")
    publisher = await connect(settings, "publisher")
    await ensure_streams(publisher.jetstream())
    services = await start_services(settings)
    envelopes = workload(events, seed=21)
    try:
        sending = asyncio.create_task(
            publish_retrying(publisher, envelopes, time.monotonic() + 240)
        )
        for kill in range(kills):
            target = (kill + 1) * events // (kills + 1)
            while True:  # kill when the publisher is past its share and the projectors busy
                info = await publisher.jetstream(timeout=2).stream_info(EVENTS_STREAM)
                if info.state.messages >= target or sending.done():
                    break
                await asyncio.sleep(0.05)
            assert server.process is not None
            server.process.kill()  # kill -9
            server.process.wait()
            await asyncio.sleep(0.5)
            server.spawn()  # the same store dir and port
            await server.wait_ready(30)
        acked = await sending
        assert len(acked) == events
        await verify(publisher, services, acked, tmp_path / "oracle")
    finally:
        await stop_services(services)
        await publisher.close()
        server.stop()


async def test_kill_the_nats_server_under_load(tmp_path: Path) -> None:
    await kill_nats_under_load(tmp_path, events=3000, kills=1)


@pytest.mark.slow
async def test_kill_the_nats_server_repeatedly(tmp_path: Path) -> None:
    await kill_nats_under_load(tmp_path, events=30_000, kills=3)


async def cluster_node_failure(tmp_path: Path, events: int) -> None:
    async with cluster_with_streams(tmp_path) as (cluster, settings, client):
        ingest = IngestService(settings)
        await ingest.start()
        services = await start_services(settings)
        envelopes = [e for e in workload(events, seed=31) if e["type"] != "rapport.stage.changed"]
        try:
            half = len(envelopes) // 2
            acked = await ingest_retrying(client, envelopes[:half], time.monotonic() + 120)
            cluster.kill(1)
            acked |= await ingest_retrying(client, envelopes[half:], time.monotonic() + 120)
            await verify(client, services, acked, tmp_path / "oracle")  # the two nodes left
            await cluster.restart(1)
            js = client.jetstream(timeout=10)
            deadline = time.monotonic() + 60
            while True:  # the restarted node catches up
                info = await js.stream_info(EVENTS_STREAM)
                replicas = info.cluster.replicas if info.cluster and info.cluster.replicas else []
                if len(replicas) == 2 and all(r.current for r in replicas):
                    break
                assert time.monotonic() < deadline, f"node did not catch up: {info.cluster}"
                await asyncio.sleep(0.2)
            assert info.state.messages == len(acked)
        finally:
            await stop_services(services)
            await ingest.stop()


async def test_a_cluster_node_dies_during_ingest(tmp_path: Path) -> None:
    await cluster_node_failure(tmp_path, events=1500)


@pytest.mark.slow
async def test_a_cluster_node_dies_during_heavy_ingest(tmp_path: Path) -> None:
    await cluster_node_failure(tmp_path, events=20_000)


async def test_a_replay_waits_out_a_cluster_without_a_leader(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rebuild started while JetStream cannot answer (no quorum) goes on once it can."""
    async with cluster_with_streams(tmp_path) as (cluster, settings, client):
        envelopes = [e for e in workload(60, seed=7) if e["type"] != "rapport.stage.changed"]
        acked = await publish_retrying(client, envelopes, time.monotonic() + 60)
        cluster.kill(1)
        cluster.kill(2)  # one node of three: no leader can be elected
        with caplog.at_level(logging.WARNING, logger="rapport.nats"):
            rebuilding = asyncio.create_task(replay(settings, "stage"))
            deadline = time.monotonic() + 30
            while not any(
                "cannot" in r.getMessage() and "yet" in r.getMessage() for r in caplog.records
            ):
                assert not rebuilding.done(), rebuilding.exception()
                assert time.monotonic() < deadline, "the replay never met an unanswering JetStream"
                await asyncio.sleep(0.1)
            await cluster.restart(1)  # a quorum again
            report = await asyncio.wait_for(rebuilding, 60)
        assert report.applied_seq == max(acked.values())


async def test_patience_has_an_end() -> None:
    """A JetStream that never answers is an error after the time allowed, not a hang."""
    calls = 0

    async def never() -> None:
        nonlocal calls
        calls += 1
        raise NatsTimeout

    started = time.monotonic()
    with pytest.raises(NatsTimeout):
        await patiently("answer", never, within=1.0)
    assert calls >= 2
    assert time.monotonic() - started < 5
