"""The one projector runner: a durable JetStream pull consumer folding batches into a store.

nats-py directly, not FastStream, on this path, for two reasons:
- throughput: a callback subscription on an inbox fed by `$JS.API.CONSUMER.MSG.NEXT` requests
  reads ~3x faster than `PullSubscription.fetch()` (which FastStream's batch subscriber uses),
  and AckPolicy.ALL acknowledges a whole batch with one `+ACK`;
- control: FastStream's default JetStream ack policy terminates a message whose handler
  raised, and it runs a pulled batch's messages concurrently unless taken as one list. Here a
  batch is always folded in stream order, and nothing is acknowledged before it is committed.

Per batch: skip stream sequences at or below the checkpoint (redeliveries), read each message
through the one reader of the log, fold the events into their relationships' states,
dead-letter what cannot be applied (original bytes, reason, stream sequence, projection),
commit view rows + the ids read + checkpoint in one SQLite transaction, then acknowledge the
last message. A bug in a fold (`ProjectionBug`) stops the projector loudly: nothing past the
event is committed, and `failure` says which sequence and why until the service restarts.

Order and completeness rest on the consumer sequence: every delivery (redeliveries included)
takes the next one, so a jump means a delivery this process never saw (e.g. dropped by a slow
subscription). The runner then re-creates its consumer at checkpoint + 1 rather than skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy
from nats.js.errors import APIError, NotFoundError

from events.reading import StoredMessage
from events.subjects import EVENTS_FILTER, EVENTS_STREAM
from services.config.tasks import stop_task
from services.nats.connection import flush, patiently
from services.nats.deliveries import tap, untap
from services.nats.streams import NO_ROOM
from services.projection.applier import BatchApplier, Prepared, ProjectionBug

if TYPE_CHECKING:
    from collections.abc import Callable

    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from projections.base import Fold
    from projections.notices import NoticeRules
    from projections.store_base import SqliteStore
    from services.nats.deliveries import Delivered

log = logging.getLogger("rapport.projector")

HEARTBEAT = 1.0  # seconds between the server's idle heartbeats on an open pull request
SETUP_SECONDS = 30.0  # how long a start waits for JetStream to elect a leader and answer

S = TypeVar("S")


@dataclass
class ProjectorStats:
    """Counters of the consumer side (the applier counts what it applied)."""

    skipped_redelivered: int = 0
    batches: int = 0
    resyncs: int = 0
    stream_pending: int = 0
    last_batch_seconds: float = 0.0


def delivery(reply: str) -> tuple[int, int, int, float]:
    """(stream seq, consumer seq, pending, stored at) from a JetStream delivery's reply subject."""
    tokens = reply.split(".")
    if len(tokens) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        return int(tokens[5]), int(tokens[6]), int(tokens[8]), int(tokens[7]) / 1e9
    # $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>...
    return int(tokens[7]), int(tokens[8]), int(tokens[10]), int(tokens[9]) / 1e9


def describe(exc: BaseException) -> str:
    """Why a batch could not be committed, in words an operator acts on."""
    said = str(exc) or exc.__class__.__name__
    if isinstance(exc, sqlite3.OperationalError) and "full" in said:
        return f"cannot write its store: the disk is full ({said})"
    if isinstance(exc, APIError) and exc.err_code == NO_ROOM:
        return f"JetStream cannot store a dead letter: insufficient resources ({said})"
    if isinstance(exc, sqlite3.Error):
        return f"cannot write its store: {said}"
    return f"cannot apply its events: {exc.__class__.__name__}: {said}"


class Resync(RuntimeError):
    """Delivery went out of step with the checkpoint; restart the consumer there."""


class Projector(Generic[S]):
    """Keeps one projection's store up to date with RAPPORT_EVENTS, exactly once."""

    def __init__(
        self,
        nc: NATS,
        name: str,
        fold: Fold[S],
        store: SqliteStore[S],
        *,
        batch_size: int = 1000,
        stream: str = EVENTS_STREAM,
        subject_filter: str = EVENTS_FILTER,
        durable: str | None = None,
        request_expires: float = 5.0,
        acknowledge: bool = True,
        owns: Callable[[str | None], bool] | None = None,
        notices: NoticeRules[S] | None = None,
        on_notices: Callable[[], None] | None = None,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.name = name
        self.store = store
        # notices (live projectors only) are committed with their batch; `on_notices` is told
        self.applier = BatchApplier(self.js, name, fold, store, owns, notices)
        self.on_notices = on_notices
        self.batch_size = batch_size
        self.stream = stream
        self.subject_filter = subject_filter
        self.durable = durable or f"rapport-{name}"
        # Without acknowledgements (replay) the consumer is ephemeral: it goes when we stop.
        self.acknowledge = acknowledge
        self.request_expires = request_expires
        self.stats = ProjectorStats()
        self._buffer: list[Delivered] = []
        self._arrived = asyncio.Event()
        self._requests: deque[int] = deque()  # undelivered count of each open pull, oldest first
        self._next_delivery = 1  # the consumer sequence the next delivery must carry
        self._silent_rounds = 0
        self._taken = 0  # the last stream sequence folded (committed or in flight)
        self._committing: asyncio.Task[None] | None = None
        self._last_heard = time.monotonic()
        self._pending_fresh = False  # the last delivery said more messages were pending
        self._inbox = ""
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._progress = asyncio.Condition()
        # Wall-clock time such that everything stored before it has been taken (folded, maybe
        # not yet committed): the stored time of the last message taken, or the time of an
        # idle heartbeat (nothing left to deliver). How stale what was taken can be.
        self.caught_up_at = 0.0
        self.failure: str | None = None  # set when a bug stopped the projection
        # why the last batch could not be committed (a full disk...), None once one is
        self.problem: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def applied_seq(self) -> int:
        """The last stream sequence whose effects are committed."""
        return self.applier.applied_seq

    async def start(self) -> None:
        """Resume after the store's checkpoint and start folding in the background."""
        await self.applier.resume()
        # a cluster electing a leader answers in seconds, not never
        await patiently(f"set up the {self.name} consumer", self._subscribe, SETUP_SECONDS)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"projector-{self.name}")

    async def stop(self) -> None:
        """Stop pulling; what was committed stays committed, the rest is redelivered later."""
        task, self._task = self._task, None
        self._stopping = True  # a flag as well as a cancel (services.config.tasks)
        await stop_task(task)
        await self._settle()
        if self._sub is not None:
            untap(self.nc, self._sub._id)
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        with contextlib.suppress(Exception):
            await flush(self.nc, within=2)  # let the last ack reach the server
        if not self.acknowledge:
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(self.stream, self.durable)

    @property
    def taken(self) -> int:
        """The last stream sequence folded (committed, or in the batch committing now)."""
        return self._taken

    async def wait_applied(self, seq: int, within: float) -> bool:
        """Wait until `seq` is applied (read-your-writes); False after `within` seconds."""
        return await self._wait(lambda: self.applied_seq >= seq, within)

    async def wait_taken(self, seq: int, within: float) -> bool:
        """Wait until `seq` is at least folded (what in-memory readers see); False on timeout."""
        return await self._wait(lambda: self._taken >= seq, within)

    async def _wait(self, reached: Callable[[], bool], within: float) -> bool:
        if reached():
            return True
        async with self._progress:
            try:
                await asyncio.wait_for(self._progress.wait_for(reached), within)
            except TimeoutError:
                return False
        return True

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    # -- the consumer ---------------------------------------------------------------------------

    async def _subscribe(self) -> None:
        """(Re)create the durable at checkpoint + 1 and open the delivery inbox."""
        if self._sub is not None:
            untap(self.nc, self._sub._id)
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        self._buffer.clear()
        self._requests.clear()
        self._next_delivery = 1
        self._silent_rounds = 0
        self.applier.forget_in_flight()
        self._taken = self.applied_seq
        # The store's checkpoint is the truth: a consumer left from an earlier run may have
        # delivered (but not had acknowledged) messages that would only return after ack_wait.
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.stream, self.durable)
        config = ConsumerConfig(
            description=f"Rapport projection {self.name}",
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.applied_seq + 1,
            max_waiting=16,
            filter_subject=self.subject_filter,
            replay_policy=ReplayPolicy.INSTANT,
        )
        if self.acknowledge:
            config.durable_name = self.durable
            config.ack_policy = AckPolicy.ALL
            config.ack_wait = 120
            config.max_deliver = -1
            config.max_ack_pending = self.batch_size * 4
        else:
            config.name = self.durable
            config.ack_policy = AckPolicy.NONE
            config.inactive_threshold = 30
        await self.js.add_consumer(self.stream, config)
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(
            self._inbox,
            cb=self._on_message,
            pending_msgs_limit=self.batch_size * 8,
            pending_bytes_limit=512 * 1024 * 1024,
        )
        # taken straight from the client's parser, in order: no Msg, no header parsing, no
        # queue and task per message (services.nats.deliveries)
        tap(self.nc, self._sub._id, self._take, self._status)

    def _take(self, delivered: Delivered) -> None:
        """A stored message delivered to the pull inbox: buffer it for the next batch."""
        self._last_heard = time.monotonic()
        self._silent_rounds = 0
        self._buffer.append(delivered)
        requests = self._requests
        if requests:
            requests[0] -= 1
            if requests[0] <= 0:
                requests.popleft()
        self._arrived.set()

    def _status(self, status: str) -> None:
        """A status on the pull inbox: an idle heartbeat (100) or a pull request's end."""
        self._last_heard = time.monotonic()
        self._silent_rounds = 0
        requests = self._requests
        if status in ("404", "408", "409") and requests:  # the oldest pull request ended
            requests.popleft()
        if status in ("100", "404", "408") and not self._buffer and not self._pending_fresh:
            # an idle heartbeat or an empty pull: nothing stored is left to deliver
            self.caught_up_at = max(self.caught_up_at, time.time())
        self._arrived.set()

    async def _on_message(self, msg: Msg) -> None:
        """The subscription's callback: only used when the client could not be tapped."""
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self._take(msg)
        else:
            self._status(status)

    async def _request(self) -> None:
        """Keep up to two pull requests open (the next one asked for while this one drains)."""
        asked = sum(self._requests)
        if len(self._requests) >= 2 or asked + len(self._buffer) >= 2 * self.batch_size:
            return
        if self._requests and asked > self.batch_size // 2:
            return
        self._requests.append(self.batch_size)
        self._last_heard = time.monotonic()
        request = {
            "batch": self.batch_size,
            "expires": int(self.request_expires * 1e9),
            # the server says it is alive while a request waits; silence means it died
            "idle_heartbeat": int(HEARTBEAT * 1e9),
        }
        await self.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}",
            orjson.dumps(request),
            reply=self._inbox,
        )

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                if self._committing is not None and self._committing.done():
                    self._committing.result()  # a failed commit surfaces here
                await self._request()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), HEARTBEAT)
                self._arrived.clear()
                if not self._buffer:
                    if time.monotonic() - self._last_heard > 3 * HEARTBEAT:
                        # the requests died with a connection (or the consumer is gone)
                        self._requests.clear()
                        self._silent_rounds += 1
                        if self._silent_rounds >= 3:
                            raise Resync("the consumer stopped answering")
                    continue
                batch = self._buffer[: self.batch_size]
                del self._buffer[: len(batch)]
                await self._process(batch)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except ProjectionBug as bug:
                # A bug is not bad input: stop here, loudly; the checkpoint stays before it.
                await self._settle()
                self.failure = str(bug)
                log.critical("%s: projection stopped: %s", self.name, bug, exc_info=bug)
                return
            except Exception as exc:
                # Nothing uncommitted is acknowledged: resume from the checkpoint.
                await self._settle()
                self.stats.resyncs += 1
                level = logging.INFO
                if not isinstance(exc, Resync):
                    problem = describe(exc)
                    # said once while it lasts, not every few seconds
                    level = logging.DEBUG if problem == self.problem else logging.ERROR
                    self.problem = problem
                log.log(level, "%s: %s; resuming after seq %d", self.name, exc, self.applied_seq)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                with contextlib.suppress(Exception):
                    await self._subscribe()

    # -- one batch ------------------------------------------------------------------------------

    async def _process(self, batch: list[Delivered]) -> None:
        """Fold this batch while the previous one commits; commit it once that one is done."""
        started = time.perf_counter()
        high = self._taken
        fresh: list[tuple[int, Delivered]] = []
        pending, stored_at = 0, 0.0
        for msg in batch:
            seq, delivered, pending, stored_at = delivery(msg.reply)
            if delivered != self._next_delivery:
                raise Resync(f"deliveries jumped from {self._next_delivery} to {delivered}")
            self._next_delivery += 1
            self.stats.stream_pending = pending
            if seq <= high:  # a redelivery of something already applied
                self.stats.skipped_redelivered += 1
                continue
            fresh.append((seq, msg))
            high = seq
        prepared = None
        if fresh:
            # SQLite writes in its own thread (without the GIL): folding the next batch here
            # while the previous one commits keeps both cores busy.
            prepared = await self.applier.prepare(
                [StoredMessage(seq, msg.subject, msg.data) for seq, msg in fresh]
            )
            self._taken = fresh[-1][0]
            await self._notify()
        self._pending_fresh = pending > 0
        # The stream stores in sequence order: whatever was stored before the last message
        # taken has a lower sequence, so it is taken too (`stored_at`: the server's clock).
        self.caught_up_at = max(self.caught_up_at, stored_at)
        previous = self._committing
        if previous is not None:
            # Commits go one at a time, in stream order. Shielded: a stop() cancelling us here
            # must not cut the transaction short; it finds the commit in _committing and waits.
            await asyncio.shield(previous)
        self._committing = asyncio.create_task(self._commit(prepared, batch[-1]))
        self.stats.batches += 1
        self.stats.last_batch_seconds = time.perf_counter() - started

    async def _commit(self, prepared: Prepared[S] | None, last: Delivered) -> None:
        if prepared is not None:
            await self.applier.commit(prepared)
            self.problem = None
            await self._notify()
            if prepared.notices and self.on_notices is not None:
                self.on_notices()  # the outbox has something to publish
        if self.acknowledge:
            # AckPolicy.ALL: acknowledging the last message acknowledges the whole batch.
            await self.nc.publish(last.reply, b"+ACK")

    async def _settle(self) -> None:
        """Let a commit in flight finish (never cut a transaction short), whatever it does."""
        committing, self._committing = self._committing, None
        if committing is not None:
            with contextlib.suppress(Exception):
                await committing

    def status(self) -> dict[str, Any]:
        """What the runner has done so far."""
        stats, applied = self.stats, self.applier.stats
        return {
            "projection": self.name,
            "applied_seq": self.applied_seq,
            "events_applied": applied.applied,
            "dead_lettered": applied.dead_lettered,
            "skipped_redelivered": stats.skipped_redelivered,
            "skipped_duplicate": applied.skipped_duplicate,
            "batches": stats.batches,
            "resyncs": stats.resyncs,
            "failure": self.failure,
            "problem": self.problem,
            "stream_pending": stats.stream_pending + len(self._buffer),
            "buffered": len(self._buffer),
            "last_batch_seconds": round(stats.last_batch_seconds, 6),
        }
