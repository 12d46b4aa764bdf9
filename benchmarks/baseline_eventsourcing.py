"""The peer: the stage and health projections on the `eventsourcing` library (9.x, SQLite).

What is measured, from subscribing to RAPPORT_EVENTS until both views have tracked the last
event: NATS -> `RelationshipLog` (the library's event store) -> `StageProjection` and
`HealthProjection` (the library's materialised views with tracking records).

- Reading: an ordered consumer (no acks) delivers the stream; every 1000 messages (and at the
  end) the bridge records them with one `Application.save()` (one SQLite transaction), in
  stream order, on a worker thread while the event loop keeps reading.
- Projecting: the library's `ProjectionRunner` needs `ApplicationRecorder.subscribe()`, which
  its SQLite recorder does not implement, so each projection is driven the way the runner
  would drive it, from a thread of its own: the library's `NotificationLogReader` selects
  sections of 1000 notifications after the view's `max_tracking_id`, the application's mapper
  turns each into a domain event, and `Projection.process_event` folds it into the view in one
  transaction with its tracking record. The bridge prompts both after each save, as the
  library's `Leader` prompts its followers.
- Both views run concurrently with the bridge (as a runner per projection would), on the
  same 2 cores and under the same GIL as everything else in this process.
- SQLite: WAL (the library's choice) and `synchronous=NORMAL` (Rapport's choice; the
  library's default is FULL, an fsync per transaction: `durable_commits=True` measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nats
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.system import NotificationLogReader
from eventsourcing.utils import get_topic
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from benchmarks.eventsourcing_model import (
    HealthProjection,
    HealthViewRecorder,
    NormalSyncSQLiteFactory,
    Relationship,
    RelationshipLog,
    StageProjection,
    StageViewRecorder,
)
from benchmarks.result import BaselineResult, DropCounter, require_fresh, require_loopback
from events.subjects import EVENTS_FILTER, EVENTS_STREAM, parse_event_subject
from projections.health import codec
from projections.stage.store import COLUMNS, view_from_row

if TYPE_CHECKING:
    from pathlib import Path
    from uuid import UUID

    from eventsourcing.domain import CanMutateAggregate
    from eventsourcing.persistence import TrackingRecorder
    from eventsourcing.projection import Projection
    from nats.aio.msg import Msg

    from projections.health.fold import HealthState
    from projections.stage.fold import StageView

BATCH = 1000
EVENTS_DB, STAGE_DB, HEALTH_DB = "es-events.db", "es-stage.db", "es-health.db"


def _env(workdir: Path, db: str, durable_commits: bool) -> dict[str, str]:
    module = "eventsourcing.sqlite" if durable_commits else get_topic(NormalSyncSQLiteFactory)
    return {"PERSISTENCE_MODULE": module, "SQLITE_DBNAME": str(workdir / db)}


class _Bridge:
    """Records what the ordered consumer delivers in the library's event store, in batches."""

    def __init__(self, app: RelationshipLog, count: int, followers: list[threading.Event]) -> None:
        self.app = app
        self.count = count
        self.followers = followers
        self.received = 0
        self.recorded = 0
        self.buffer: list[tuple[str, bytes, int]] = []
        self.aggregates: dict[str, Relationship] = {}  # the single writer's aggregates
        self.done = asyncio.Event()

    async def on_message(self, msg: Msg) -> None:
        if self.received >= self.count:
            return
        self.received += 1
        self.buffer.append((msg.subject, msg.data, msg.metadata.sequence.stream))
        if len(self.buffer) >= BATCH or self.received == self.count:
            batch, self.buffer = self.buffer, []
            # nats-py awaits callbacks one at a time: batches stay in order
            await asyncio.to_thread(self.record, batch)
            if self.received == self.count:
                self.done.set()

    def record(self, batch: list[tuple[str, bytes, int]]) -> None:
        """Append each message to its relationship's aggregate; save all in one transaction."""
        pending: list[CanMutateAggregate[UUID]] = []
        for subject, data, seq in batch:
            relationship_id, _ = parse_event_subject(subject)
            aggregate = self.aggregates.get(relationship_id)
            if aggregate is None:
                with contextlib.suppress(AggregateNotFoundError):
                    aggregate = self.app.repository.get(Relationship.create_id(relationship_id))
            if aggregate is None:
                aggregate = Relationship(relationship_id, data.decode(), seq)
            elif seq <= aggregate.last_seq:
                continue  # already recorded (a redelivery)
            else:
                aggregate.record(data.decode(), seq)
            self.aggregates[relationship_id] = aggregate
            pending.extend(aggregate.collect_events())
        self.app.save(*pending)  # in stream order, one transaction
        self.recorded += len(pending)
        for prompt in self.followers:
            prompt.set()


@dataclass
class _Target:
    """How far the followers must go: unknown until the bridge has recorded everything."""

    final_id: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def reached(self, position: int) -> bool:
        return self.stop.is_set() or (self.final_id is not None and position >= self.final_id)


def _follow(
    projection: Projection[Any],
    app: RelationshipLog,
    prompt: threading.Event,
    target: _Target,
    deadline: float,
) -> float:
    """Fold notifications into the projection's view until it tracks the target; when done."""
    reader = NotificationLogReader(app.notification_log, section_size=BATCH)
    view: TrackingRecorder = projection.view
    position = view.max_tracking_id(app.name) or 0
    while not target.reached(position):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{projection.name}: at notification {position} at the deadline")
        prompt.wait(0.05)
        prompt.clear()
        for notifications in reader.select(
            start=position, inclusive_of_start=False, topics=projection.topics
        ):
            for notification in notifications:
                domain_event = app.mapper.to_domain_event(notification)
                projection.process_event(domain_event, Tracking(app.name, notification.id))
            position = notifications[-1].id
    return time.perf_counter()


async def eventsourcing_peer(
    nats_url: str,
    count: int,
    workdir: Path,
    *,
    stream: str = EVENTS_STREAM,
    durable_commits: bool = False,
    within: float = 900.0,
) -> BaselineResult:
    """Feed `count` events from RAPPORT_EVENTS through an eventsourcing application into both views.

    `workdir` receives three SQLite files: the application's events and the two views.
    """
    require_loopback(nats_url)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    require_fresh(workdir, EVENTS_DB, STAGE_DB, HEALTH_DB)
    deadline = time.monotonic() + within
    writer = RelationshipLog(env=_env(workdir, EVENTS_DB, durable_commits))
    readers = [RelationshipLog(env=_env(workdir, EVENTS_DB, durable_commits)) for _ in range(2)]
    stage = StageProjection(
        view=InfrastructureFactory[StageViewRecorder]
        .construct(_env(workdir, STAGE_DB, durable_commits))
        .tracking_recorder(StageViewRecorder)
    )
    health = HealthProjection(
        view=InfrastructureFactory[HealthViewRecorder]
        .construct(_env(workdir, HEALTH_DB, durable_commits))
        .tracking_recorder(HealthViewRecorder)
    )
    prompts = [threading.Event(), threading.Event()]
    target = _Target()
    bridge = _Bridge(writer, count, prompts)
    followers: list[asyncio.Task[float]] = []
    drops = DropCounter()
    nc = await nats.connect(nats_url, allow_reconnect=False, error_cb=drops.note)
    try:
        started = time.perf_counter()
        projections: tuple[Projection[Any], ...] = (stage, health)
        for projection, app, prompt in zip(projections, readers, prompts, strict=True):
            follow = asyncio.to_thread(_follow, projection, app, prompt, target, deadline)
            followers.append(asyncio.create_task(follow))
        sub = await nc.jetstream().subscribe(
            EVENTS_FILTER,
            stream=stream,
            cb=bridge.on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            pending_msgs_limit=256 * 1024,
            pending_bytes_limit=512 * 1024 * 1024,
        )
        try:
            await asyncio.wait_for(bridge.done.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise TimeoutError(f"eventsourcing: {bridge.received} of {count} read") from None
        recorded_at = time.perf_counter()
        with contextlib.suppress(NotFoundError):
            await sub.unsubscribe()
        target.final_id = writer.recorder.max_notification_id() or 0
        for prompt in prompts:
            prompt.set()
        stage_done, health_done = await asyncio.gather(*followers)
        seconds = max(stage_done, health_done) - started
    finally:
        target.stop.set()  # a follower still running (something above failed) stops now
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*followers, return_exceptions=True), 10)
        await nc.close()
        for application in (writer, *readers):
            application.close()
        stage.view.datastore.close()
        health.view.datastore.close()
    return BaselineResult.measured(
        "eventsourcing-peer",
        bridge.received,
        seconds,
        "eventsourcing 9.x on SQLite: ordered consumer -> Application.save() per 1000 events "
        "(stream order) -> stage and health Projections, each in its own thread reading the "
        "notification log in sections of 1000, one view+tracking transaction per event. "
        f"Timed from subscribe until both views track the last event (NATS read included); "
        f"synchronous={'FULL' if durable_commits else 'NORMAL'}, WAL.",
        recorded=bridge.recorded,
        record_seconds=recorded_at - started,
        stage_seconds=stage_done - started,
        health_seconds=health_done - started,
        durable_commits=durable_commits,
        slow_consumer_drops=drops.slow_consumer,
    )


def read_stage_views(workdir: Path) -> dict[str, StageView]:
    """Every relationship's stage view the peer committed."""
    with contextlib.closing(sqlite3.connect(workdir / STAGE_DB)) as db:
        rows = db.execute(f"SELECT {COLUMNS} FROM stage_view").fetchall()
    return {row[0]: view_from_row(row) for row in rows}


def read_health_states(workdir: Path) -> dict[str, HealthState]:
    """Every relationship's health state the peer committed."""
    with contextlib.closing(sqlite3.connect(workdir / HEALTH_DB)) as db:
        rows = db.execute("SELECT relationship_id, state FROM health_view").fetchall()
    return {rel: codec.decode(rel, blob) for rel, blob in rows}
