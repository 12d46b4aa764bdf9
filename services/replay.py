"""`rapport replay`: rebuild a projection from sequence 1 into a fresh store, then swap it in.

The rebuild reads the log through an ephemeral consumer without acknowledgements, in batches,
with the same applier as the live projector (so the result is the same by construction). It
catches up to the live tail, then:
- when a service runs on this data dir, asks it over NATS to adopt the new store (it catches
  the store up to its own position and switches; queries never see a half-built store and
  never stop being answered);
- when nothing runs, points `<name>.current` at the new store itself.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from events.subjects import EVENTS_STREAM
from services.connection import connect
from services.hosting import settle_memory, swap_subject
from services.projector import Projector
from services.specs import SPECS
from services.store_files import (
    StoreInUse,
    current_store,
    lock_projection,
    next_store,
    publish_store,
    remove_store,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from services.settings import Settings

REPLAY_BATCH = 5000
REPLAY_CACHE = 300_000  # relationships whose state a rebuild keeps in memory


class ReplayFailed(RuntimeError):
    """The rebuilt store could not be put in place; the old one is still in use."""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What one rebuild did and how fast."""

    projection: str
    events: int
    seconds: float
    applied_seq: int
    store: Path
    swapped_live: bool
    dead_lettered: int

    @property
    def eps(self) -> float:
        """Events per second of the rebuild (reading, folding and writing)."""
        return self.events / self.seconds if self.seconds else 0.0


async def replay(
    settings: Settings,
    name: str,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = REPLAY_BATCH,
) -> ReplayReport:
    """Rebuild projection `name` from the whole log and put the result in use."""
    spec = SPECS[name]
    settle_memory()
    nc = await connect(settings, f"replay-{name}", retry_forever=False)
    try:
        js = nc.jetstream()
        target = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        try:
            lock = lock_projection(settings.data_dir, name)
        except StoreInUse:
            lock = None  # a service on this data dir owns the store: it will adopt ours
        path = next_store(settings.data_dir, name)
        # the fast path: states stay in memory (a large cache: no reads back from SQLite),
        # applied ids are remembered in memory, writes go in large batches, nothing is acked
        store = spec.store(path, cache_size=REPLAY_CACHE)
        await store.open()
        projector = Projector(
            nc,
            name,
            spec.fold,
            store,
            batch_size=batch_size,
            durable=f"rapport-{name}-replay-{os.getpid()}",
            acknowledge=False,
            fresh_store=True,
        )
        started = time.perf_counter()
        await projector.start()
        try:
            while projector.applied_seq < target:
                await projector.wait_applied(target, 0.25)
                if progress is not None:
                    progress(projector.applied_seq, target)
            tail = (await js.stream_info(EVENTS_STREAM)).state.last_seq
            if not await projector.wait_applied(tail, 120):
                raise ReplayFailed(f"could not catch up to the live tail (seq {tail})")
            seconds = time.perf_counter() - started
        finally:
            await projector.stop()
            await store.close()
        applied = projector.applied_seq
        if lock is not None:
            previous = current_store(settings.data_dir, name)
            publish_store(settings.data_dir, name, path)
            if previous.name != path.name:
                remove_store(previous)
            lock.close()
            swapped_live = False
        else:
            reply = await nc.request(
                swap_subject(name, settings.instance),
                orjson.dumps({"path": str(path.resolve())}),
                timeout=660,
            )
            answer = orjson.loads(reply.data)
            if "error" in answer:
                remove_store(path)
                raise ReplayFailed(
                    f"the running {name} service refused: {answer['error']['message']}"
                )
            swapped_live = True
        return ReplayReport(
            projection=name,
            events=applied,
            seconds=seconds,
            applied_seq=applied,
            store=path,
            swapped_live=swapped_live,
            dead_lettered=projector.applier.stats.dead_lettered,
        )
    finally:
        await nc.close()
