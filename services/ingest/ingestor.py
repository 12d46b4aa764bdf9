"""Validated ingest: one implementation behind both doors (`rapport.ingest` and POST /v1/events).

What it acknowledges, every projection applies, once:
- every event is validated against the contract before it is written (the one reader of the
  log judges it exactly as the projections will);
- its id is looked up in the durable index of event ids: the same event again is answered
  `duplicate` with the original sequence at any age, another event under a used id is a
  `conflict`;
- a stage change is checked against the relationship's stage timeline, and a proposal event
  against the proposal lifecycle, both read through the one reader; they are appended with
  `Nats-Expected-Last-Subject-Sequence` (over the relationship's proposal subjects for
  proposal events), so of two racing writers one wins and the other gets a conflict.
Everything is published with `Nats-Msg-Id` = event id.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from nats.js.errors import APIError

from events import Stage, StageChanged
from events.identity import digest
from events.parsing import InvalidEvent, parse_stored
from events.proposal_rules import judge
from events.reading import Fresh, decode, ids_of, read_in_order
from events.records import ProposalEvent
from events.subjects import event_subject, proposals_filter, stage_subject
from events.timeline import step
from services.ingest.body import split_body
from services.nats.log_reader import DirectReader, LogReadError
from services.nats.streams import NO_ROOM
from services.queries.identity import IndexBehind

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.js.api import PubAck

    from events import Event
    from events.proposal_rules import Status
    from events.reading import FirstCopy
    from services.queries.identity import IdIndex


TROUBLE_HOLD = 30.0  # seconds a failed publish is reported when nothing is stored since
WRONG_LAST_SEQUENCE = 10071  # JetStream: Nats-Expected-Last-Subject-Sequence did not hold
# Every field has a bound, but extension attributes do not: cap the whole event instead.
MAX_EVENT_BYTES = 64 * 1024
LANES = 64  # relationships of one batch appended at the same time


@dataclass(frozen=True, slots=True)
class Candidate:
    """A valid event of a request: where it was, what it is, its bytes as sent, its digest."""

    index: int
    event: Event
    raw: bytes
    digest: bytes


@dataclass(slots=True)
class GuardLog:
    """What is stored under a guarded subject of one relationship, folded.

    The stage guard reads `rapport.ev.<id>.stage.changed`; the proposal guard reads
    `rapport.ev.<id>.proposal.*`.
    """

    last_seq: int = 0  # stream sequence of the last message stored under it (0: none yet)
    stage: Stage = Stage.CONNECTION
    proposals: dict[str, Status] = field(default_factory=dict)
    ids: dict[str, FirstCopy] = field(default_factory=dict)  # first copies stored under it


GuardKind = Literal["stage", "proposals"]


@dataclass(slots=True)
class IngestResult:
    """What happened to each event of a request, in request order."""

    batch: bool
    outcomes: list[dict[str, Any]]

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """`{id, seq}` (and `duplicate`) of each stored event."""
        return [entry for entry in self.outcomes if "seq" in entry]

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """`{id, error, code}` (and `index` in a batch) of each refused event."""
        return [
            {key: value for key, value in entry.items() if key != "index" or self.batch}
            for entry in self.outcomes
            if "error" in entry
        ]

    def reply(self) -> dict[str, Any]:
        """The contract's ingest reply."""
        return {"accepted": self.accepted, "rejected": self.rejected}


class Ingestor:
    """Validate, check identity and rules, and append events to RAPPORT_EVENTS."""

    def __init__(
        self,
        nc: NATS,
        identity: IdIndex,
        *,
        duplicate_window: float = 120.0,
        max_batch: int = 1000,
        publish_timeout: float = 5.0,
        cache_size: int = 50_000,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=publish_timeout, publish_async_max_pending=4000)
        self._reader = DirectReader(nc, timeout=publish_timeout)
        self._identity = identity
        self._window = duplicate_window
        self._max_batch = max_batch
        self._publish_timeout = publish_timeout
        self._cache_size = cache_size
        self._guards: OrderedDict[tuple[GuardKind, str], GuardLog] = OrderedDict()
        # why JetStream did not store an event lately, and when (None once one is stored)
        self._trouble: tuple[str, float] | None = None

    async def close(self) -> None:
        """Release the reader's subscription."""
        await self._reader.close()

    async def ingest(self, body: bytes) -> IngestResult:
        """Take one envelope or a batch; keep the good events and name the bad ones."""
        items, batch = split_body(body, self._max_batch)
        outcomes: list[dict[str, Any]] = [{} for _ in items]
        # Valid events by relationship, in request order: each relationship's events are
        # appended in that order; different relationships go at the same time (a guarded
        # event waits for its check and its ack, and should not hold up the rest of a batch).
        by_relationship: dict[str, list[Candidate]] = {}
        for index, raw in enumerate(items):
            checked = _validate(index, raw)
            if isinstance(checked, dict):
                outcomes[index] = checked
            else:
                by_relationship.setdefault(checked.event.subject, []).append(checked)
        candidates = [c for lane in by_relationship.values() for c in lane]
        if not candidates:
            return IngestResult(batch=batch, outcomes=outcomes)
        try:
            known = await self._identity.first_copies(ids_of_candidates(candidates))
        except IndexBehind:
            known = {}  # nothing can be told a retry or new: every event waits for `fresh`
            fresh: bool | None = False
        else:
            fresh = None  # whether "not in the index" means new (asked once, lazily)
        pending: list[tuple[Candidate, asyncio.Future[PubAck]]] = []
        lanes = asyncio.Semaphore(LANES)

        async def index_is_fresh() -> bool:
            nonlocal fresh
            if fresh is None:
                try:
                    fresh = await self._identity.fresh(self._window)
                except Exception:  # the stream did not answer: treat as not fresh
                    fresh = False
            return fresh

        async def append(lane: list[Candidate]) -> None:
            async with lanes:
                for candidate in lane:
                    event = candidate.event
                    first = known.get(event.id)
                    if first is not None:
                        outcomes[candidate.index] = _by_identity(candidate, first)
                    elif not await index_is_fresh():
                        outcomes[candidate.index] = _rejected(
                            candidate, "unavailable", _INDEX_BEHIND
                        )
                    elif isinstance(event, StageChanged):
                        outcomes[candidate.index] = await self._guarded(candidate, "stage")
                    elif isinstance(event, ProposalEvent):
                        outcomes[candidate.index] = await self._guarded(candidate, "proposals")
                    else:
                        try:
                            future = await self._js.publish_async(
                                event_subject(event.subject, event.type),
                                candidate.raw,
                                headers={"Nats-Msg-Id": event.id},
                                wait_stall=self._publish_timeout,
                            )
                        except Exception as exc:
                            outcomes[candidate.index] = self._not_stored(candidate, exc)
                            continue
                        pending.append((candidate, future))

        await asyncio.gather(*(append(lane) for lane in by_relationship.values()))
        deadline = time.monotonic() + self._publish_timeout
        for candidate, future in pending:
            try:
                ack = await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                future.cancel()
                outcomes[candidate.index] = self._not_stored(candidate, exc)
                continue
            outcomes[candidate.index] = await self._acknowledged(candidate, ack)
        return IngestResult(batch=batch, outcomes=outcomes)

    @property
    def problem(self) -> str | None:
        """Why JetStream did not store events lately: until one is stored, or for a while.

        Only a publish tells whether JetStream stores again; when nobody sends anything, the
        problem is said for `TROUBLE_HOLD` seconds after the last failure, then no more.
        """
        if self._trouble is None:
            return None
        said, at = self._trouble
        return said if time.monotonic() - at < TROUBLE_HOLD else None

    def _troubled(self, said: str) -> None:
        self._trouble = (said, time.monotonic())

    def _not_stored(self, candidate: Candidate, exc: BaseException) -> dict[str, Any]:
        """JetStream did not confirm a publish: say so to the sender, and in the status."""
        if isinstance(exc, APIError) and exc.err_code == NO_ROOM:
            self._troubled(
                "JetStream refuses to store events: insufficient resources (is the disk full?)"
            )
            return _rejected(
                candidate,
                "unavailable",
                "not stored: JetStream has no room (insufficient resources: the disk is full "
                "or the stream is at its limits); retry with the same id later",
            )
        self._troubled(f"JetStream did not confirm a publish ({str(exc) or type(exc).__name__})")
        return _rejected(candidate, "unavailable", _unavailable(exc))

    async def _acknowledged(self, candidate: Candidate, ack: PubAck) -> dict[str, Any]:
        """The outcome of a publish JetStream confirmed (perhaps as a duplicate in its window)."""
        self._trouble = None
        if not ack.duplicate:
            return _accepted(candidate, ack.seq)
        # The window caught the id: the message under it may be this event, or another one
        # (or junk published with a chosen Nats-Msg-Id). The index says which.
        try:
            known = await self._identity.first_copies({candidate.event.id}, upto_seq=ack.seq)
        except IndexBehind as exc:
            return _rejected(candidate, "unavailable", str(exc))
        first = known.get(candidate.event.id)
        if first is None:
            return _rejected(
                candidate,
                "conflict",
                f"conflict: id {candidate.event.id!r} is held by the message at seq {ack.seq}, "
                "which is not a valid event, for JetStream's duplicate window; retry later "
                "or use another id",
            )
        return _by_identity(candidate, first)

    async def _guarded(self, candidate: Candidate, kind: GuardKind) -> dict[str, Any]:
        """Check a stage change or proposal event against what is stored, then append it."""
        event = candidate.event
        relationship = event.subject
        try:
            log = await self._refresh(kind, relationship)
        except (LogReadError, IndexBehind) as exc:
            what = "stage" if kind == "stage" else "proposals"
            return _rejected(candidate, "unavailable", f"cannot read the current {what}: {exc}")
        first = log.ids.get(event.id)
        if first is not None:  # a retry of an event stored since the index was asked
            return _by_identity(candidate, first)
        headers = {
            "Nats-Msg-Id": event.id,
            "Nats-Expected-Last-Subject-Sequence": str(log.last_seq),
        }
        after_stage, status = log.stage, None
        if isinstance(event, StageChanged):
            after_stage, verdict = step(log.stage, event.data)
            if not verdict.accepted:
                code = "conflict" if "from-mismatch" in verdict.flags else "rejected"
                return _rejected(candidate, code, f"data.to: {verdict.reason}")
        elif isinstance(event, ProposalEvent):
            transition = judge(log.proposals.get(event.data.proposal_id), event)
            if not transition.accepted:
                return _rejected(candidate, "rejected", f"data.proposal_id: {transition.why}")
            status = transition.status
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = proposals_filter(relationship)
        try:
            ack = await self._js.publish(
                event_subject(relationship, event.type),
                candidate.raw,
                timeout=self._publish_timeout,
                headers=headers,
            )
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                return await self._lost_race(candidate, kind)
            return self._not_stored(candidate, exc)
        except Exception as exc:
            return self._not_stored(candidate, exc)
        if ack.duplicate:
            return await self._acknowledged(candidate, ack)
        self._trouble = None
        log.last_seq = ack.seq  # nothing else was stored under it in between: JetStream checked
        log.ids[event.id] = (ack.seq, candidate.digest)
        log.stage = after_stage
        if status is not None and isinstance(event, ProposalEvent):
            log.proposals[event.data.proposal_id] = status
        return _accepted(candidate, ack.seq)

    async def _lost_race(self, candidate: Candidate, kind: GuardKind) -> dict[str, Any]:
        """Something was stored under the guarded subject while this event was checked."""
        event = candidate.event
        try:
            log = await self._refresh(kind, event.subject)
        except (LogReadError, IndexBehind):
            log = GuardLog()
        first = log.ids.get(event.id)
        if first is not None:  # the racer was a copy of this very event (a retry)
            return _by_identity(candidate, first)
        what = "changed stage" if kind == "stage" else "had a proposal event stored"
        return _rejected(
            candidate,
            "conflict",
            f"conflict: relationship {event.subject} {what} while this change was checked; "
            "read it again and retry",
        )

    async def _refresh(self, kind: GuardKind, relationship: str) -> GuardLog:
        """Fold what was stored under a guarded subject since the cached view (all at first)."""
        key = (kind, relationship)
        log = self._guards.get(key) or GuardLog()
        subject = stage_subject(relationship) if kind == "stage" else proposals_filter(relationship)
        messages = await self._reader.read(subject, log.last_seq + 1, per_subject=True)
        messages = [m for m in messages if m.seq > log.last_seq]
        if messages:
            decoded = [decode(message) for message in messages]
            ids = ids_of(decoded)
            known = await self._identity.first_copies(ids, upto_seq=messages[-1].seq)
            known.update((i, first) for i, first in log.ids.items() if i in ids)
            for reading in read_in_order(decoded, known):
                if not isinstance(reading, Fresh):
                    continue
                log.ids[reading.event.id] = (reading.seq, reading.digest)
                event = reading.event
                if isinstance(event, StageChanged):
                    log.stage, _ = step(log.stage, event.data)
                elif isinstance(event, ProposalEvent):
                    proposal_id = event.data.proposal_id
                    transition = judge(log.proposals.get(proposal_id), event)
                    if transition.accepted and transition.status is not None:
                        log.proposals[proposal_id] = transition.status
            log.last_seq = messages[-1].seq
        self._guards[key] = log
        self._guards.move_to_end(key)
        while len(self._guards) > self._cache_size:
            self._guards.popitem(last=False)
        return log


_INDEX_BEHIND = (
    "no index of event ids (a projection service) is caught up with the log, so a retry "
    "could not be told from a new event; retry shortly"
)


def ids_of_candidates(candidates: list[Candidate]) -> set[str]:
    """The event ids of a request's valid events."""
    return {candidate.event.id for candidate in candidates}


def _validate(index: int, raw: bytes) -> Candidate | dict[str, Any]:
    """The event as the one reader will read it, or the rejection naming what is wrong."""
    if len(raw) > MAX_EVENT_BYTES:
        error = f"event: {len(raw)} bytes is more than the {MAX_EVENT_BYTES} one event may have"
        return _refusal(index, _id_in(raw), "invalid", error)
    try:
        event = parse_stored(raw).event  # stored under its own subject, as the reader checks
    except InvalidEvent as exc:
        return _refusal(index, _id_in(raw), "invalid", str(exc))
    return Candidate(index, event, raw, digest(event))


def _id_in(raw: bytes) -> str | None:
    """The `id` an invalid envelope gives, if it gives one (to name it in the reply)."""
    try:
        envelope = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    event_id = envelope.get("id") if isinstance(envelope, dict) else None
    return event_id if isinstance(event_id, str) else None


def _by_identity(candidate: Candidate, first: FirstCopy) -> dict[str, Any]:
    """A known id: the same event again is a duplicate; another event under it, a conflict."""
    seq, digest = first
    if digest == candidate.digest:
        return {"id": candidate.event.id, "seq": seq, "duplicate": True}
    return _rejected(
        candidate,
        "conflict",
        f"conflict: id {candidate.event.id!r} already used by another event at seq {seq}",
    )


def _accepted(candidate: Candidate, seq: int) -> dict[str, Any]:
    return {"id": candidate.event.id, "seq": seq}


def _rejected(candidate: Candidate, code: str, error: str) -> dict[str, Any]:
    return _refusal(candidate.index, candidate.event.id, code, error)


def _refusal(index: int, event_id: str | None, code: str, error: str) -> dict[str, Any]:
    return {"id": event_id, "error": error, "code": code, "index": index}


def _unavailable(exc: BaseException) -> str:
    what = str(exc) or exc.__class__.__name__
    return (
        f"not confirmed by JetStream ({what}); the event may or may not be stored: "
        "retry with the same id (retries are deduplicated)"
    )
