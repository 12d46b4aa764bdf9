"""`rapport service stage|health|proposals`: a projector and its queries in one process.

The projector keeps the store current; the queries answer from the same store (through its
read connection) on `rapport.q.<projection>.<query>` in a queue group, so replicas share the
load (`answers.py`). A rebuilt store is adopted without a pause (`swap.py`). Every store is
also an index of event ids: the service answers `rapport.q.identity.lookup` from it.
The live projector commits the notices a batch brings into the store's outbox; a publisher
sends them to `RAPPORT_NOTICES` (`services.notices`); the health service also announces
touches as they fall due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar, cast

from faststream.nats import NatsMessage  # noqa: TC002  (FastStream resolves it at runtime)

from events.queries import IdsQuery
from events.subjects import IDENTITY_SUBJECT, swap_subject
from projections.store_base import SqliteStore
from services.nats.broker import add_ping, make_broker, start_broker
from services.nats.connection import connect, flush
from services.nats.log_reader import DirectReader
from services.nats.roles import consumer_names
from services.nats.streams import STREAM_WAIT, ensure_streams
from services.nats.wire import error_reply
from services.notices.outbox import OutboxPublisher, carry
from services.notices.touches import WATERMARK, TouchScheduler
from services.projection import swap
from services.projection.answers import Answers
from services.projection.applier import NOTICES_AFTER
from services.projection.partitions import partition_of
from services.projection.projector import Projector
from services.projection.store_files import (
    current_store,
    lock_projection,
    next_store,
    publish_store,
)
from services.queries.identity import IDENTITY_QUEUE, IndexBehind, Known, lookup
from services.queries.routes import QueryError, Route
from services.queries.upkeep import Upkeep

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from events.reading import FirstCopy
    from services.config.settings import Settings
    from services.notices.touches import DueStore
    from services.projection.registry import ProjectionSpec

log = logging.getLogger("rapport.queries")

FIRST_COPIES_WAIT = 1.0  # seconds a log read waits for the projection to catch up with it
CARRIED = (WATERMARK,)  # store meta a new store takes over from the one it replaces
StoreT = TypeVar("StoreT", bound=SqliteStore[Any])


class ProjectionService(Generic[StoreT]):
    """One projection: its projector, store and query handlers."""

    def __init__(self, settings: Settings, spec: ProjectionSpec[StoreT]) -> None:
        self.name = spec.name
        self.settings = settings
        self.spec = spec
        self._store: StoreT = spec.store(current_store(settings.data_dir, spec.name))
        self.broker = make_broker(settings, spec.name)
        self._nc: NATS | None = None
        self._reader: DirectReader | None = None
        self._projector: Projector[Any] | None = None
        self._lock: IO[bytes] | None = None
        self._swap_lock = asyncio.Lock()
        self.publisher: OutboxPublisher | None = None
        self.touches: TouchScheduler | None = None
        self.upkeep: Upkeep | None = None
        self._started_at = 0.0
        add_ping(self.broker, self)
        routes = [*spec.routes(self), self._identity_route()]
        self.answers = Answers(self.name, settings, routes, lambda: self.projector)

        @self.broker.subscriber(swap_subject(self.name, settings.instance))
        async def swap_store(msg: NatsMessage) -> bytes:
            try:
                return await self.swap(msg.body)
            except Exception as exc:  # always answer: `rapport replay` waits for the reply
                log.exception("%s: swap failed", self.name)
                return error_reply("unavailable", f"swap failed: {exc}")

    async def swap(self, body: bytes) -> bytes:
        """Adopt the rebuilt store a swap request names (one swap at a time), or say why not."""
        async with self._swap_lock:
            return await swap.adopt(self, body)

    # -- what query handlers use (the `Context` of services.queries.routes) ----------------

    @property
    def store(self) -> StoreT:
        """The store in use."""
        return self._store

    @property
    def reader(self) -> DirectReader:
        """Direct reads of the log (time travel, audit, history)."""
        assert self._reader is not None, "the service is not started"
        return self._reader

    async def first_copies(self, ids: set[str], upto_seq: int) -> dict[str, FirstCopy]:
        """What this store knows of the first stored copies of `ids` (the one reader's input).

        Waits briefly until the projection has read up to `upto_seq`, so an id first used by
        another relationship just before is known too.
        """
        await self.projector.wait_applied(upto_seq, FIRST_COPIES_WAIT)
        return await self._store.first_copies(ids)

    async def known(self, ids: set[str], upto_seq: int, within: float) -> Known:
        """What the index of event ids answers: first copies, and how far it has read."""
        projector = self.projector
        if upto_seq and not await projector.wait_taken(upto_seq, within):
            raise IndexBehind(
                f"the {self.name} projection has read up to seq {projector.taken}, not yet "
                f"{upto_seq}; retry shortly"
            )
        found = projector.applier.first_copies_in_flight(ids)
        found.update(await self._store.first_copies(ids - found.keys()))
        return Known(found, projector.taken, projector.caught_up_at)

    def _identity_route(self) -> Route:
        async def answer(query: IdsQuery) -> dict[str, Any]:
            try:
                return await lookup(self, query)
            except IndexBehind as exc:
                raise QueryError("unavailable", str(exc)) from None

        return Route("lookup", IdsQuery, answer, subject=IDENTITY_SUBJECT, queue=IDENTITY_QUEUE)

    # -- the projector ----------------------------------------------------------------------

    @property
    def projector(self) -> Projector[Any]:
        """The running projector."""
        assert self._projector is not None, "the service is not started"
        return self._projector

    @property
    def durable(self) -> str:
        """The name of this replica's durable consumer."""
        return consumer_names(self.name, self.settings.instance)[0]

    def projector_for(self, store: StoreT, durable: str, *, live: bool) -> Projector[Any]:
        """A projector folding into `store` (live: acknowledging, durable)."""
        assert self._nc is not None
        announces = live and self.spec.notices is not None and self.settings.publish_notices
        return Projector(
            self._nc,
            self.name,
            self.spec.fold,
            store,
            batch_size=self.settings.batch_size,
            durable=durable,
            acknowledge=live,
            owns=self.owns if self.settings.partitions > 1 else None,
            notices=self.spec.notices() if announces and self.spec.notices else None,
            on_notices=self.publisher.wake if self.publisher is not None else None,
        )

    def switch_to(self, store: StoreT, projector: Projector[Any]) -> None:
        """Answer from `store`, kept current by `projector`, from now on (a swap)."""
        self._store, self._projector = store, projector

    async def carry_notices(self, old: StoreT, new: StoreT) -> None:
        """Hand what `old` has not yet published (and its watermarks) to the store replacing it."""
        carried = await carry(old, new, CARRIED)
        if carried:
            log.info("%s: %d unsent notices carried to %s", self.name, carried, new.path.name)
        if self.publisher is not None:
            self.publisher.wake()

    def caught_up(self) -> bool:
        """The projector has applied everything stored since it started (not catching up)."""
        projector = self._projector
        return (
            projector is not None
            and projector.caught_up_at >= self._started_at
            and projector.applied_seq >= projector.taken
            and projector.stats.stream_pending == 0
        )

    def owns(self, relationship_id: str | None) -> bool:
        """True when this replica's partition holds the relationship."""
        if relationship_id is None:  # a malformed subject: partition 0 dead-letters it
            return self.settings.partition == 0
        return partition_of(relationship_id, self.settings.partitions) == self.settings.partition

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, resume the projector, start answering."""
        self._lock = lock_projection(self.settings.data_dir, self.name)
        self._started_at = time.time()
        await self._open_store()
        self._nc = await connect(self.settings, self.name)
        await ensure_streams(
            self._nc.jetstream(),
            self.settings.replicas,
            self.settings.duplicate_window,
            create=False,  # only an administrator creates streams
            wait=STREAM_WAIT,
            notice_days=self.settings.notice_days,
        )
        self._reader = DirectReader(self._nc, timeout=self.settings.request_timeout * 2)
        if self.spec.notices is not None and self.settings.publish_notices:
            self.publisher = OutboxPublisher(
                self._nc, lambda: self._store, self.name, timeout=self.settings.publish_timeout
            )
        self._projector = self.projector_for(self._store, self.durable, live=True)
        await self._projector.start()
        if self.publisher is not None:
            self.publisher.start()  # first what an earlier run left unsent
            if self.name == "health":
                self.touches = TouchScheduler(
                    lambda: cast("DueStore", self._store),
                    self.publisher.wake,
                    self.caught_up,
                    tick=self.settings.notice_tick,
                )
                self.touches.start()
        self.upkeep = Upkeep(lambda: self._store, self.caught_up)
        self.upkeep.start()
        await self.answers.subscribe(self._nc)
        await start_broker(self.broker)

    async def _open_store(self) -> None:
        """Open the store in use; one built by another version of the fold starts afresh."""
        await self._store.open()
        wanted = str(self.spec.version)
        found = await self._store.meta("fold_version", "", reader=False)
        if found == wanted:
            return
        if found or await self._store.checkpoint():
            # what it holds was computed by other rules: rebuild it from the log, from seq 1
            log.warning(
                "%s: the store %s was built by fold version %s, this Rapport folds version %s; "
                "rebuilding it from the log",
                self.name,
                self._store.path.name,
                found or "1",
                wanted,
            )
            old = self._store
            announced = await old.checkpoint()  # the old store announced the log up to here
            path = next_store(self.settings.data_dir, self.name)
            self._store = self.spec.store(path)
            await self._store.open()
            await carry(old, self._store, CARRIED)
            await self._store.set_meta(NOTICES_AFTER, str(announced))
            await old.close()
            publish_store(self.settings.data_dir, self.name, path)
        await self._store.set_meta("fold_version", wanted)

    async def stop(self) -> None:
        """Stop answering, stop the projector (committed work stays), close the store."""
        await self.answers.stop()
        await self.broker.stop()
        if self.touches is not None:
            await self.touches.stop()
        if self.upkeep is not None:
            await self.upkeep.stop()
        if self._projector is not None:
            await self._projector.stop()
        if self.publisher is not None:
            await self.publisher.stop()
            await self.publisher.drain(within=2)  # what stays unsent goes out at the next start
        try:
            if self._reader is not None:
                await self._reader.close()
            await self._store.close()
        finally:
            if self._nc is not None:
                # everything that used the connection has stopped: flush what is queued (the
                # last acks) and close; a drain could wait on a connection already lost
                with contextlib.suppress(Exception):
                    await flush(self._nc, within=2)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._nc.close(), 5)
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def status(self) -> dict[str, Any]:
        """The projector's counters and query latencies."""
        status = self.projector.status() if self._projector else {}
        publisher = self.publisher
        if publisher is not None:
            status["notices_published"] = publisher.published
            if self.touches is not None:
                status["touches_announced"] = self.touches.announced
            if publisher.problem and not status.get("problem"):
                status["problem"] = publisher.problem
        if self.upkeep is not None:
            # when the store's upkeep last finished a round (None: it has none, or not yet)
            status["kept_at"] = self.upkeep.kept_at
        status["store"] = str(self._store.path.resolve())
        status["instance"] = self.settings.instance
        status["queries"] = self.answers.status()
        return status
