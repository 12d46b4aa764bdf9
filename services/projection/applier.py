"""Apply a batch of stored messages to a projection store, exactly once.

Shared by the live projector and by replay: read each message through the one reader of the
log (`events.reading`: an event, a later copy, or a dead letter), fold the first copies into
their relationships' states, dead-letter what cannot be applied (original bytes, reason,
stream sequence, projection), then commit view rows + the ids read + the checkpoint in one
SQLite transaction.

A fold refuses an event with `FoldError` only (a dead letter). Anything else it raises is a
bug: the batch is not committed, and `ProjectionBug` stops the projection, naming the sequence.

A live applier also asks the projection's notice rules what the batch brings (a stage change,
a band crossing, a decision) and commits those notices with the batch, in its outbox; they are
published once committed (`services.notices.outbox`). Only events after `notices_after` are
announced: a store that starts on a log with a history announces none of that history.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from nats.js.errors import NotFoundError

from events.reading import Copy, Dead, Fresh, decode, ids_of, read_in_order
from events.subjects import DLQ_STREAM, EVENTS_STREAM, dlq_subject
from projections.base import FoldError
from services.projection.partitions import subject_relationship

if TYPE_CHECKING:
    from collections.abc import Callable

    from nats.js import JetStreamContext

    from events import Event
    from events.notices import Notice
    from events.reading import FirstCopy, StoredMessage
    from projections.base import Fold
    from projections.notices import NoticeRules
    from projections.store_base import NewId, OutboxRow, SqliteStore

log = logging.getLogger("rapport.projector")

S = TypeVar("S")
# Events read or folded between two chances for the service's queries to be answered: a batch
# of 1 000 is 50-100 ms of Python, which a query (the ingest's id lookup, a page) would wait
# out whole; handing the loop over costs ~5 us.
YIELD_EVERY = 100
NOTICES_AFTER = "notices_after"  # store meta: the last sequence whose notices are not announced


class ProjectionBug(RuntimeError):
    """A fold raised something other than `FoldError`: a bug, not bad input."""

    def __init__(self, projection: str, seq: int, error: BaseException) -> None:
        self.projection = projection
        self.seq = seq
        super().__init__(
            f"{projection} failed on seq {seq} with a bug: {error.__class__.__name__}: {error}"
        )


@dataclass(frozen=True, slots=True)
class Prepared(Generic[S]):
    """A folded batch, ready to commit."""

    changes: dict[str, tuple[S | None, S]]
    new_ids: list[NewId]
    dead: list[Dead]
    last_seq: int
    applied: int
    copies: int
    notices: list[OutboxRow] = field(default_factory=list)


@dataclass
class ApplyStats:
    """What an applier has done since it started; `dead_lettered` counts all the store's."""

    applied: int = 0
    dead_lettered: int = 0
    skipped_duplicate: int = 0
    other_partitions: int = 0


@dataclass
class InFlight(Generic[S]):
    """A prepared batch, until it is committed: the next one folds on top of it."""

    last_seq: int
    states: dict[str, S] = field(default_factory=dict)
    first_copies: dict[str, FirstCopy] = field(default_factory=dict)


class BatchApplier(Generic[S]):
    """Folds batches (in stream order) into one store; remembers where it is."""

    def __init__(
        self,
        js: JetStreamContext,
        name: str,
        fold: Fold[S],
        store: SqliteStore[S],
        owns: Callable[[str | None], bool] | None = None,
        notices: NoticeRules[S] | None = None,
    ) -> None:
        self.js = js
        self.notices = notices  # None: announce nothing (a rebuild)
        self.notices_after = 0
        self.owns = owns  # a partition replica folds only the relationships it owns
        self.name = name
        self.fold = fold
        self.store = store
        self.applied_seq = 0
        self.stats = ApplyStats()
        self._in_flight: list[InFlight[S]] = []  # prepared, not yet committed, oldest first

    async def resume(self) -> int:
        """Read the checkpoint the store committed last (and its count of dead letters)."""
        self.applied_seq = await self.store.checkpoint()
        self.stats.dead_lettered = await self.store.dead_lettered()
        if self.notices is not None:
            self.notices_after = await self._notices_after()
        return self.applied_seq

    async def _notices_after(self) -> int:
        """From where this store announces: kept in its meta, decided when it is first live.

        A store used before announces from its checkpoint (it was rebuilt, then swapped in; or
        it predates notices). A new one on a log with a history announces only what comes
        after that history: a new replica, a new partition, a store rebuilt for a new fold
        version never announce the past (the one it replaces did, or it was before notices).
        """
        found = await self.store.meta(NOTICES_AFTER, "", reader=False)
        if found:
            return int(found)
        after = self.applied_seq
        if after == 0:
            after = (await self.js.stream_info(EVENTS_STREAM)).state.last_seq
        await self.store.set_meta(NOTICES_AFTER, str(after))
        return after

    async def prepare(self, batch: list[StoredMessage]) -> Prepared[S]:
        """Read, check and fold a batch; nothing is written yet.

        May run while the previous batch commits: states and ids of a batch in flight are
        read from memory, the rest from the store's read connection. Every message is read,
        also those of relationships another partition owns: an id is an id across them all.
        """
        decoded: list[Fresh | Dead] = []
        for start in range(0, len(batch), YIELD_EVERY):
            decoded += [decode(message) for message in batch[start : start + YIELD_EVERY]]
            await asyncio.sleep(0)  # a chance for queries (and the ingest's id lookups)
        ids = ids_of(decoded)
        known = self.first_copies_in_flight(ids)
        known.update(await self.store.first_copies(ids - known.keys()))
        readings = read_in_order(decoded, known)

        mine = [r for r in readings if self._owned(r.message.subject)]
        keys = {r.event.subject for r in mine if isinstance(r, Fresh)}
        states: dict[str, S] = {}
        for batch_in_flight in self._in_flight:  # newer batches override older ones
            states.update((k, v) for k, v in batch_in_flight.states.items() if k in keys)
        states.update(await self.store.load(keys - states.keys()))
        before: dict[str, S | None] = {}
        working: dict[str, S] = dict(states)
        dead: list[Dead] = []
        applied = copies = 0
        rules, announced_after = self.notices, self.notices_after
        notices: list[Notice] = []
        causes: dict[str, tuple[int, Event]] = {}
        for number, reading in enumerate(mine, 1):
            if number % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if isinstance(reading, Dead):
                dead.append(reading)
                continue
            if isinstance(reading, Copy):
                copies += 1
                continue
            key = reading.event.subject
            current = working.get(key)
            try:
                updated = self.fold(current, reading.event, reading.seq)
            except FoldError as exc:
                dead.append(Dead(reading.message, f"{self.name} could not apply it: {exc}"))
                continue
            except Exception as exc:  # a bug: stop, and keep the checkpoint before this event
                raise ProjectionBug(self.name, reading.seq, exc) from exc
            applied += 1
            if updated is not current:
                before.setdefault(key, states.get(key))
                working[key] = updated
            if rules is not None and reading.seq > announced_after:
                notice = rules.after_event(current, reading.event, reading.seq, updated)
                if notice is not None:
                    notices.append(notice)
                causes[key] = (reading.seq, reading.event)
        new_ids = [(r.event.id, r.seq, r.digest) for r in readings if isinstance(r, Fresh)]
        changes = {key: (before[key], working[key]) for key in before}
        if rules is not None and causes:
            notices += rules.after_batch(changes, causes, time.time())
        self._in_flight.append(
            InFlight(
                batch[-1].seq,
                {key: after for key, (_, after) in changes.items()},
                {event_id: (seq, digest) for event_id, seq, digest in new_ids},
            )
        )
        self.stats.other_partitions += len(readings) - len(mine)
        outbox = [(notice.id, notice.subject, notice.body()) for notice in notices]
        return Prepared(changes, new_ids, dead, batch[-1].seq, applied, copies, outbox)

    def _owned(self, subject: str) -> bool:
        return self.owns is None or self.owns(subject_relationship(subject))

    async def commit(self, prepared: Prepared[S]) -> None:
        """Dead-letter, then commit rows, ids, the dead-letter count and checkpoint at once."""
        for item in prepared.dead:
            await self.dead_letter(item)
        dead = len(prepared.dead)
        await self.store.commit(
            prepared.changes, prepared.last_seq, prepared.new_ids, dead, prepared.notices
        )
        self._in_flight = [b for b in self._in_flight if b.last_seq > prepared.last_seq]
        self.stats.applied += prepared.applied
        self.stats.skipped_duplicate += prepared.copies
        self.stats.dead_lettered += dead
        self.applied_seq = prepared.last_seq

    def first_copies_in_flight(self, event_ids: set[str]) -> dict[str, FirstCopy]:
        """First copies of these ids in batches folded but not yet committed."""
        known: dict[str, FirstCopy] = {}
        for batch in self._in_flight:
            known.update((i, batch.first_copies[i]) for i in event_ids if i in batch.first_copies)
        return known

    def forget_in_flight(self) -> None:
        """Drop what was folded but not committed (after a failure: the store is the truth)."""
        self._in_flight = []
        if self.notices is not None:
            self.notices.forget()

    async def dead_letter(self, item: Dead) -> bool:
        """Keep what could not be applied, with why, once per projection (True: published now)."""
        reason = " ".join(item.reason.split())[:2000]
        subject = dlq_subject(self.name, item.seq)
        try:
            await self.js.get_msg(DLQ_STREAM, subject=subject, direct=True)
        except NotFoundError:
            pass
        else:
            return False  # kept already (a rebuild, or a redelivery after a crash)
        log.warning("%s: seq %d dead-lettered: %s", self.name, item.seq, reason)
        await self.js.publish(
            subject,
            item.message.data,
            headers={
                "Nats-Msg-Id": f"{self.name}-{item.seq}",  # a race in the window is deduplicated
                "Rapport-Reason": reason,
                "Rapport-Seq": str(item.seq),
                "Rapport-Projection": self.name,
                "Rapport-Subject": item.message.subject,
            },
        )
        return True
