"""Apply a batch of stored events to a projection store, exactly once.

Shared by the live projector and by replay: parse and validate each event, fold it into its
relationship's state, dead-letter what cannot be applied (original bytes, reason, stream
sequence, projection), then commit view rows + applied event ids + checkpoint in one SQLite
transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from events import InvalidEvent, parse_event
from events.subjects import dlq_subject, stored_under
from services.partitioning import subject_relationship

if TYPE_CHECKING:
    from collections.abc import Callable

    from nats.js import JetStreamContext

    from events import Event
    from projections.base import Fold
    from projections.store_base import SqliteStore

log = logging.getLogger("rapport.projector")

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Stored:
    """One message of the log: its stream sequence, subject and bytes."""

    seq: int
    subject: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Prepared(Generic[S]):
    """A folded batch, ready to commit."""

    changes: dict[str, tuple[S | None, S]]
    applied_ids: list[str]
    dead: list[tuple[Stored, str]]
    last_seq: int
    owned: int


@dataclass
class ApplyStats:
    """What an applier has done."""

    applied: int = 0
    dead_lettered: int = 0
    skipped_duplicate: int = 0
    other_partitions: int = 0


class BatchApplier(Generic[S]):
    """Folds batches (in stream order) into one store; remembers where it is."""

    def __init__(
        self,
        js: JetStreamContext,
        name: str,
        fold: Fold[S],
        store: SqliteStore[S],
        owns: Callable[[str | None], bool] | None = None,
        fresh_store: bool = False,
    ) -> None:
        self.js = js
        # Folding into a new store from sequence 1 (replay): every applied id is one this
        # applier applied, so they are remembered in memory instead of asked of SQLite.
        self._seen_ids: set[str] | None = set() if fresh_store else None
        self.owns = owns  # a partition replica folds only the relationships it owns
        self.name = name
        self.fold = fold
        self.store = store
        self.applied_seq = 0
        self.stats = ApplyStats()
        # the last prepared batch, until it is committed (the next one folds on top of it)
        self._in_flight: dict[str, S] = {}
        self._in_flight_ids: set[str] = set()

    async def resume(self) -> int:
        """Read the checkpoint the store committed last."""
        self.applied_seq = await self.store.checkpoint()
        return self.applied_seq

    async def apply(self, batch: list[Stored]) -> None:
        """Fold and commit one batch (events after the checkpoint, in stream order)."""
        await self.commit(await self.prepare(batch))

    async def prepare(self, batch: list[Stored]) -> Prepared[S]:
        """Parse, check and fold a batch; nothing is written yet.

        May run while the previous batch commits: states and event ids of a batch in flight
        are read from memory, the rest from the store's read connection.
        """
        parsed: list[tuple[Stored, Event]] = []
        dead: list[tuple[Stored, str]] = []
        owned = 0
        for item in batch:
            if self.owns is not None and not self.owns(subject_relationship(item.subject)):
                self.stats.other_partitions += 1
                continue
            owned += 1
            try:
                event = parse_event(item.data)
            except InvalidEvent as exc:
                dead.append((item, f"invalid event: {exc}"))
                continue
            if not stored_under(item.subject, event.subject, event.type):
                dead.append(
                    (
                        item,
                        f"subject mismatch: stored under {item.subject} but the envelope says "
                        f"subject {event.subject!r}, type {event.type!r}",
                    )
                )
                continue
            parsed.append((item, event))

        ids = {event.id for _, event in parsed}
        if self._seen_ids is not None:
            already = ids & self._seen_ids
        else:
            already = (ids & self._in_flight_ids) | await self.store.applied(ids)
        keys = {event.subject for _, event in parsed}
        states = {key: self._in_flight[key] for key in keys if key in self._in_flight}
        states.update(await self.store.load(keys - states.keys()))
        before: dict[str, S | None] = {}
        working: dict[str, S] = dict(states)
        applied_ids: list[str] = []
        for item, event in parsed:
            if event.id in already:
                self.stats.skipped_duplicate += 1
                continue
            key = event.subject
            current = working.get(key)
            try:
                updated = self.fold(current, event, item.seq)
            except Exception as exc:  # dead-lettered with its reason, never silently skipped
                dead.append((item, f"{self.name} could not apply it: {exc}"))
                continue
            already.add(event.id)
            if updated is not current:
                # An event that changes nothing would change nothing again: only ids that
                # changed state need remembering to make a late duplicate a no-op.
                before.setdefault(key, states.get(key))
                working[key] = updated
                applied_ids.append(event.id)
        changes = {key: (before[key], working[key]) for key in before}
        self._in_flight = {key: after for key, (_, after) in changes.items()}
        self._in_flight_ids = set(applied_ids)
        if self._seen_ids is not None:
            self._seen_ids.update(applied_ids)
        return Prepared(changes, applied_ids, dead, batch[-1].seq, owned)

    async def commit(self, prepared: Prepared[S]) -> None:
        """Dead-letter, then commit rows, applied ids and checkpoint in one transaction."""
        for item, reason in sorted(prepared.dead, key=lambda pair: pair[0].seq):
            await self.dead_letter(item, reason)
        await self.store.commit(prepared.changes, prepared.last_seq, prepared.applied_ids)
        self.stats.applied += prepared.owned - len(prepared.dead)
        self.stats.dead_lettered += len(prepared.dead)
        self.applied_seq = prepared.last_seq

    def forget_in_flight(self) -> None:
        """Drop what was folded but not committed (after a failure: the store is the truth)."""
        self._in_flight = {}
        self._in_flight_ids = set()

    async def dead_letter(self, item: Stored, reason: str) -> None:
        """Keep what could not be applied, with why, before the batch commits."""
        reason = " ".join(reason.split())[:2000]
        log.warning("%s: seq %d dead-lettered: %s", self.name, item.seq, reason)
        await self.js.publish(
            dlq_subject(self.name),
            item.data,
            headers={
                "Nats-Msg-Id": f"{self.name}-{item.seq}",  # a re-run is deduplicated
                "Rapport-Reason": reason,
                "Rapport-Seq": str(item.seq),
                "Rapport-Projection": self.name,
                "Rapport-Subject": item.subject,
            },
        )
