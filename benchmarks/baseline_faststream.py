"""The default a user would write: a FastStream JetStream subscriber, one event at a time.

A durable subscriber on `rapport.ev.>` with FastStream's defaults: a pull subscriber with
`PullSub()` (one message per fetch), which FastStream recommends for durables, or a push
subscriber; its JetStream ack policy acknowledges after the handler returns. (A per-message
pull with `batch_size > 1` would run each fetched batch concurrently and break the order a
fold needs, so it is not offered.) The handler validates the event with
`events.parse_event` and folds it into Rapport's `stage_view` row in one aiosqlite
transaction per event: load the row, fold, upsert, commit. No checkpoint, no dedupe, no
dead-letter queue: that is what the per-message default leaves out.

The stream is bound with `JStream(name, declare=False)`: with `declare=True` (the default)
`broker.start()` would add the stream with FastStream's config, and update it on a conflict.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import warnings
from typing import TYPE_CHECKING, Any, Literal

import aiosqlite
import nats
from faststream.nats import JStream, NatsBroker, PullSub

# FastStream reads the handler's annotations at run time: this import must stay real.
from faststream.nats.annotations import NatsMessage  # noqa: TC002
from nats.js.errors import NotFoundError

from benchmarks.result import BaselineResult, require_fresh, require_loopback
from events import parse_event
from events.subjects import EVENTS_FILTER, EVENTS_STREAM
from projections.stage.fold import apply as stage_apply
from projections.stage.store import COLUMNS, ROW, StageStore, row_from_view, view_from_row
from projections.store_base import PRAGMAS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from projections.stage.fold import StageView

DB = "faststream-stage.db"
SELECT = f"SELECT {COLUMNS} FROM stage_view WHERE relationship_id = ?"
UPSERT = f"INSERT OR REPLACE INTO stage_view ({COLUMNS}) VALUES {ROW}"


async def _delete_consumer(nats_url: str, stream: str, durable: str) -> None:
    nc = await nats.connect(nats_url, allow_reconnect=False)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_consumer(stream, durable)
    finally:
        await nc.close()


def _subscribe(
    broker: NatsBroker,
    handler: Callable[[Any], Awaitable[None]],
    *,
    stream: str,
    durable: str,
    consumer: Literal["pull", "push"],
) -> None:
    """Register the handler as a durable subscriber on the events, bound to the stream."""
    bound = JStream(stream, declare=False)  # declare=True would add/update the stream
    if consumer == "pull":
        broker.subscriber(EVENTS_FILTER, stream=bound, durable=durable, pull_sub=PullSub())(handler)
        return
    with warnings.catch_warnings():
        # FastStream warns that a durable push consumer cannot scale out: one instance here
        warnings.filterwarnings("ignore", "The JetStream Push consumer", RuntimeWarning)
        broker.subscriber(EVENTS_FILTER, stream=bound, durable=durable)(handler)


async def faststream_default(
    nats_url: str,
    count: int,
    workdir: Path,
    *,
    stream: str = EVENTS_STREAM,
    durable: str = "bench-faststream",
    consumer: Literal["pull", "push"] = "pull",
    access_log: bool = False,
    within: float = 900.0,
) -> BaselineResult:
    """Fold `count` events, one FastStream message and one SQLite transaction at a time.

    Timed: from `broker.start()` (connect, consumer creation) to the commit of the `count`-th
    event. `access_log=True` keeps FastStream's per-message access log (INFO, two lines per
    message); off by default so the benchmark does not measure a terminal.
    """
    require_loopback(nats_url)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    require_fresh(workdir, DB)
    await _delete_consumer(nats_url, stream, durable)  # a durable left over would resume
    db = await aiosqlite.connect(workdir / DB, isolation_level=None)
    handled = 0
    done = asyncio.Event()

    async def on_event(msg: NatsMessage) -> None:
        nonlocal handled
        event = parse_event(msg.body)
        await db.execute("BEGIN IMMEDIATE")
        try:
            async with db.execute(SELECT, (event.subject,)) as cursor:
                row = await cursor.fetchone()
            view = stage_apply(view_from_row(row) if row else None, event)
            await db.execute(UPSERT, row_from_view(view))
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        handled += 1
        if handled == count:
            done.set()

    broker = NatsBroker(nats_url) if access_log else NatsBroker(nats_url, logger=None)
    _subscribe(broker, on_event, stream=stream, durable=durable, consumer=consumer)
    try:
        for pragma in PRAGMAS:  # the same WAL + synchronous=NORMAL as Rapport's stores
            await db.execute(pragma)
        await db.execute(StageStore.tables[0])
        started = time.perf_counter()
        await broker.start()
        try:
            await asyncio.wait_for(done.wait(), within)
        except TimeoutError:
            raise TimeoutError(f"faststream: {handled} of {count} before the deadline") from None
        seconds = time.perf_counter() - started
    finally:
        await broker.stop()
        await db.close()
        await _delete_consumer(nats_url, stream, durable)
    return BaselineResult.measured(
        "faststream-default",
        handled,
        seconds,
        f"FastStream 0.7 durable {consumer} subscriber"
        f"{' (PullSub(): one message per fetch)' if consumer == 'pull' else ''}, defaults "
        "otherwise (ack after the handler); "
        "parse_event + stage fold + one aiosqlite transaction per event (SELECT, upsert, "
        "COMMIT; WAL, synchronous=NORMAL); no checkpoint, dedupe or DLQ. Timed from "
        f"broker.start() to the last commit; access log {'on' if access_log else 'off'}.",
        consumer=consumer,
        access_log=access_log,
    )


def read_stage_views(workdir: Path) -> dict[str, StageView]:
    """Every relationship's stage view the FastStream subscriber committed."""
    with contextlib.closing(sqlite3.connect(workdir / DB)) as db:
        rows = db.execute(f"SELECT {COLUMNS} FROM stage_view").fetchall()
    return {row[0]: view_from_row(row) for row in rows}
