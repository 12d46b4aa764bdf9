"""`rapport replay`: rebuild a projection from sequence 1 into a fresh store, then swap it in.

The rebuild reads the log through an ephemeral consumer without acknowledgements, in batches,
with the same applier as the live projector (so the result is the same by construction). It
catches up to the live tail, then:
- when a service runs on this data dir, asks it over NATS to adopt the new store (it catches
  the store up to its own position and switches; queries never see a half-built store and
  never stop being answered);
- when nothing runs, points `<name>.current` at the new store itself.

One replay per projection runs at a time on a data dir (`<name>.replay.lock`; a second is
refused, naming the first). The rebuilt store carries a random token that replay also keeps in
its lock file: a running service adopts a store only when both match, so nothing but the
replay holding the lock can have a store swapped in.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from nats.errors import NoRespondersError

from events.subjects import EVENTS_STREAM, swap_subject
from services.config.failures import Failure
from services.nats.connection import connect, patiently
from services.nats.process import settle_memory
from services.nats.roles import consumer_names
from services.projection.projector import Projector
from services.projection.registry import SPECS
from services.projection.store_files import (
    StoreInUse,
    current_store,
    lock_projection,
    lock_replay,
    next_store,
    publish_store,
    remove_store,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import IO

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

REPLAY_BATCH = 5000
REPLAY_CACHE = 300_000  # relationships whose state a rebuild keeps in memory


STALL_SECONDS = 60.0  # a rebuild that applies nothing for this long has failed
SWAP_SECONDS = 660.0  # the service may take 2 x 300 s to catch the rebuilt store up, then 30 s


class ReplayFailed(Failure):
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
    stall: float = STALL_SECONDS,
) -> ReplayReport:
    """Rebuild projection `name` from the whole log and put the result in use."""
    settle_memory()
    token = secrets.token_hex(16)
    replay_lock = lock_replay(settings.data_dir, name, token)  # refused while another runs
    try:
        nc = await connect(settings, f"replay-{name}", retry_forever=False)
        try:
            return await _replay(nc, settings, name, token, progress, batch_size, stall)
        finally:
            await nc.close()
    finally:
        replay_lock.close()


async def _replay(
    nc: NATS,
    settings: Settings,
    name: str,
    token: str,
    progress: Callable[[int, int], None] | None,
    batch_size: int,
    stall: float,
) -> ReplayReport:
    js = nc.jetstream()
    info = await patiently("tell the log's length", lambda: js.stream_info(EVENTS_STREAM), 30)
    target = info.state.last_seq
    try:
        lock = lock_projection(settings.data_dir, name)
    except StoreInUse:
        lock = None  # a service on this data dir owns the store: it will adopt ours
    path = next_store(settings.data_dir, name).resolve()  # its cwd may differ from ours
    try:
        try:
            applied, seconds, dead_lettered = await _rebuild(
                nc, name, settings.instance, path, token, target, progress, batch_size, stall
            )
        except BaseException:
            # the old store stays in use; a half-built one is no use
            remove_store(path, settings.data_dir, name)
            raise
        swapped_live = await _put_in_use(nc, settings, name, path, token, lock)
    finally:
        if lock is not None:
            lock.close()
    return ReplayReport(
        projection=name,
        events=applied,
        seconds=seconds,
        applied_seq=applied,
        store=path,
        swapped_live=swapped_live,
        dead_lettered=dead_lettered,
    )


async def _rebuild(
    nc: NATS,
    name: str,
    instance: str,
    path: Path,
    token: str,
    target: int,
    progress: Callable[[int, int], None] | None,
    batch_size: int,
    stall: float,
) -> tuple[int, float, int]:
    """Fold the whole log into a fresh store at `path`: (applied seq, seconds, dead letters)."""
    spec = SPECS[name]
    js = nc.jetstream()
    # the fast path: states stay in memory (a large cache: no reads back from SQLite),
    # applied ids are remembered in memory, writes go in large batches, nothing is acked
    store = spec.store(path, cache_size=REPLAY_CACHE)
    await store.open()
    await store.set_meta("fold_version", str(spec.version))
    await store.set_meta("rebuild_token", token)  # what the swap checks: replay built it
    projector = Projector(
        nc,
        name,
        spec.fold,
        store,
        batch_size=batch_size,
        durable=consumer_names(name, instance)[2],
        acknowledge=False,
    )
    started = time.perf_counter()
    try:
        await projector.start()
        seen, last_progress = projector.applied_seq, time.monotonic()
        while projector.applied_seq < target:
            await projector.wait_applied(target, 0.25)
            if progress is not None:
                progress(projector.applied_seq, target)
            if projector.applied_seq > seen:
                seen, last_progress = projector.applied_seq, time.monotonic()
            elif time.monotonic() - last_progress > stall:
                raise ReplayFailed(
                    f"the rebuild of {name} applied nothing for {stall:.0f} s "
                    f"(at seq {seen} of {target}; resyncs: {projector.stats.resyncs})"
                )
        tail = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        if not await projector.wait_applied(tail, 120):
            raise ReplayFailed(f"could not catch up to the live tail (seq {tail})")
        seconds = time.perf_counter() - started
    finally:
        await projector.stop()
        await store.close()
    return projector.applied_seq, seconds, projector.applier.stats.dead_lettered


async def _put_in_use(
    nc: NATS, settings: Settings, name: str, path: Path, token: str, lock: IO[bytes] | None
) -> bool:
    """Point `<name>.current` at `path`, or have the running service adopt it (True)."""
    data_dir = settings.data_dir
    if lock is not None:
        previous = current_store(data_dir, name)
        publish_store(data_dir, name, path)
        remove_store(previous, data_dir, name)  # no longer the current one
        return False
    try:
        reply = await nc.request(
            swap_subject(name, settings.instance),
            orjson.dumps({"path": str(path), "token": token}),
            timeout=SWAP_SECONDS,
        )
    except NoRespondersError:
        remove_store(path, data_dir, name)
        raise ReplayFailed(
            f"the {name} store is locked by a service that does not answer on "
            f"{swap_subject(name, settings.instance)} (is it another instance? run the replay "
            "with that service's RAPPORT_INSTANCE)"
        ) from None
    except TimeoutError:
        # the service may still adopt it: the store stays where it is
        raise ReplayFailed(
            f"the running {name} service did not confirm the swap of {path} "
            f"within {SWAP_SECONDS:.0f} s; see its log"
        ) from None
    answer = orjson.loads(reply.data)
    if "error" in answer:
        remove_store(path, data_dir, name)
        raise ReplayFailed(f"the running {name} service refused: {answer['error']['message']}")
    return True
